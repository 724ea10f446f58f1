//! The `oscar` command line: a thin wrapper over the library.

use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use clap::{Parser, Subcommand};

mod service;

// The service allocates many small, short-lived strings per review (explanations, JSON);
// glibc's allocator spent ~17 % of the server's CPU on them under load, mimalloc far less.
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;
use oscar::SetupError;
use oscar::application::{FieldError, JsonError};
use oscar::review::Verdict;
use oscar::routes::{RouteNetwork, import_geojson, import_osm};
use oscar::rulebook::LoadedRulebook;
use oscar::setup::{RegistrySource, ReviewerConfig};
use oscar::tooling;

/// Exit code: the application was approved.
const EXIT_APPROVE: u8 = 0;
/// Exit code: the application was escalated to a reviewer.
const EXIT_ESCALATE: u8 = 1;
/// Exit code: the application is invalid (field errors printed).
const EXIT_INVALID: u8 = 2;
/// Exit code: oscar could not start (unreadable file, bad rulebook, registry or road data).
const EXIT_SETUP: u8 = 3;
/// Largest application `review` reads: room for the largest valid one (100,000 route
/// positions) even pretty-printed, while an endless input (`/dev/zero`) stops early.
const INPUT_LIMIT_BYTES: u64 = 16 << 20;

#[derive(Parser)]
#[command(
    name = "oscar",
    version,
    about = "Oversize Cargo Automated Review: pre-reviews oversize / overweight transport permit applications",
    after_help = "Examples:
  oscar review examples/helsinki-example.json           review one application (exit 0 approve, 1 escalate)
  oscar import-osm area.osm.pbf --out roads/area        road data for your area, then `review --routes roads/area`
  oscar ledger init && oscar serve --no-auth --trust-submitted-at    the HTTP service on 127.0.0.1:8080
  oscar COMMAND --help                                  the options of one command"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Review one application and print the report (exit 0 approve, 1 escalate, 2 invalid
    /// input, 3 setup error).
    Review {
        /// The application (JSON, UTF-8, at most 16 MiB); `-` reads standard input.
        application: PathBuf,
        /// Print the review as JSON.
        #[arg(long)]
        json: bool,
        /// Language of the report's labels (default: from the locale, `LANG`).
        #[arg(long, value_enum)]
        lang: Option<oscar::report::Lang>,
        /// Show every item's checks, records and legal basis in the report.
        #[arg(long)]
        verbose: bool,
        /// Where the reference data come from.
        #[command(flatten)]
        data: DataArgs,
    },
    /// Review a JSON Lines file of applications on all cores: one result a line in OUT, in
    /// input order; an OUT left by an interrupted run is completed (exit 0 every line
    /// reviewed, 2 some lines could not be, 3 setup error).
    Batch {
        /// The applications, one JSON document a line (blank lines are skipped).
        input: PathBuf,
        /// The results: each review as `review --json` gives it, on one line, or the line
        /// number and field errors of a line that could not be reviewed.
        #[arg(long)]
        out: PathBuf,
        /// Reviews running at once (default: the number of cores).
        #[arg(long)]
        threads: Option<std::num::NonZeroUsize>,
        /// Where the reference data come from.
        #[command(flatten)]
        data: DataArgs,
    },
    /// Write realistic applications with routes on real roads as JSON Lines, for `batch`
    /// (the same seed gives the same file).
    Gen {
        /// How many.
        #[arg(long)]
        count: usize,
        /// Seed.
        #[arg(long, default_value_t = oscar::batch::GEN_SEED)]
        seed: u64,
        /// Output file (default: standard output).
        #[arg(long)]
        out: Option<PathBuf>,
        /// Road network directory made by `import-osm` (default: the embedded Helsinki network).
        #[arg(long)]
        routes: Option<PathBuf>,
        /// Threads (default: the number of cores); the file is the same for any number.
        #[arg(long)]
        threads: Option<std::num::NonZeroUsize>,
    },
    /// Import an OpenStreetMap PBF extract into a road-network directory.
    ImportOsm {
        /// The `.osm.pbf` extract.
        extract: PathBuf,
        /// Output directory (`network.bin` is written there).
        #[arg(long)]
        out: PathBuf,
    },
    /// Add point / line restrictions from GeoJSON (properties in metres and kilograms) to a
    /// road-network directory.
    ImportGeojson {
        /// The GeoJSON FeatureCollection.
        file: PathBuf,
        /// The road-network directory to extend.
        #[arg(long)]
        out: PathBuf,
    },
    /// Print the counts of a road-network directory.
    RoutesInfo {
        /// The road-network directory.
        dir: PathBuf,
    },
    /// Write the demo registry (seeded) into a directory.
    DemoRegistry {
        /// Output directory.
        #[arg(long)]
        out: PathBuf,
        /// Seed.
        #[arg(long, default_value_t = tooling::demo_registry::SEED)]
        seed: u64,
    },
    /// Validate a rulebook file and print its hash.
    CheckRules {
        /// Rulebook TOML file.
        file: PathBuf,
    },
    /// Train the anomaly model reproducibly (same seed, same bytes) and write
    /// anomaly.safetensors and anomaly.json.
    Train {
        /// Output directory.
        #[arg(long, default_value = "models")]
        out: PathBuf,
        /// Seed of the generators and the initialisation.
        #[arg(long, default_value_t = tooling::anomaly::train::DEFAULT_SEED)]
        seed: u64,
        /// Autoencoders in the ensemble, each from its own seed (1 to 16).
        #[arg(long, default_value_t = tooling::anomaly::train::MEMBERS)]
        members: usize,
    },
    /// Evaluate the anomaly model against the robust z-score baseline on fresh normal and
    /// planted anomalous applications, with synthetic routes and with routes on an
    /// extract kept out of training (heidelberg-ors.osm.pbf in --osm-dir unless --extract).
    EvalModel {
        /// Model directory (default: the shipped model).
        #[arg(long)]
        model: Option<PathBuf>,
        /// Directory holding the held-out extract; without it the real-route evaluation
        /// is skipped with a warning (an error when CI=true).
        #[arg(long, default_value = "../shared/data/osm")]
        osm_dir: PathBuf,
        /// The extract in --osm-dir to draw the real routes on (training uses none of them,
        /// only the shipped Helsinki network).
        #[arg(long, default_value = tooling::anomaly::eval::HELD_OUT_EXTRACT)]
        extract: String,
        /// Write the evaluation feature vectors, labels and scores to this CSV file.
        #[arg(long)]
        dump: Option<PathBuf>,
        /// Write the model's training feature vectors (same format) to this CSV file.
        #[arg(long)]
        dump_train: Option<PathBuf>,
    },
    /// Evaluate the route items R2-R4 on real roads: routes built from graph edges of the
    /// shipped network and every extract in a directory, redrawn as another map would,
    /// against the truth from the ways travelled.
    EvalRoutes {
        /// Directory of `.osm.pbf` extracts to evaluate besides the shipped network.
        #[arg(long, default_value = "../shared/data/osm")]
        osm_dir: PathBuf,
        /// Routes per network through a restricted way, segment or node.
        #[arg(long, default_value_t = tooling::route_eval::EvalOptions::default().restricted)]
        restricted: usize,
        /// Random routes per network.
        #[arg(long, default_value_t = tooling::route_eval::EvalOptions::default().random)]
        random: usize,
        /// Seed of the walks and drawings.
        #[arg(long, default_value_t = tooling::route_eval::EvalOptions::default().seed)]
        seed: u64,
        /// Evaluate fresh seeds instead, a range (`1-24`) or a list (`3,8,10`): a table
        /// per seed and per extract, and every miss.
        #[arg(long, value_parser = tooling::route_eval::parse_seeds, conflicts_with_all = ["seed", "dump"])]
        seeds: Option<tooling::route_eval::Seeds>,
        /// Write every route (drawn, truth, oscar) as JSON Lines to this file.
        #[arg(long)]
        dump: Option<PathBuf>,
    },
    /// Serve the HTTP API (reviews, queue, restrictions, envelope, health, metrics, OpenAPI).
    Serve(Box<ServeArgs>),
    /// Serve a JSON Lines registry directory over HTTP (for `serve --registry-url`).
    RegistryServe {
        /// Registry directory (`companies.jsonl`, ...).
        dir: PathBuf,
        /// Address to listen on.
        #[arg(long, default_value = "127.0.0.1:8081")]
        addr: std::net::SocketAddr,
        /// Wait this long before every answer (to simulate a slow registry in tests).
        #[arg(long, default_value_t = 0)]
        delay_ms: u64,
    },
    /// Create, check or replay the review ledger.
    Ledger {
        #[command(subcommand)]
        action: LedgerCommand,
    },
    /// Send a mix of real applications to a running service and measure it.
    Loadtest {
        /// Base URL of the service.
        #[arg(long, default_value = "http://127.0.0.1:8080")]
        url: String,
        /// Concurrent clients.
        #[arg(long, default_value_t = 64)]
        concurrency: usize,
        /// Seconds to run.
        #[arg(long, default_value_t = 10)]
        duration: u64,
        /// Print the report as JSON.
        #[arg(long)]
        json: bool,
        /// Bearer API key.
        #[arg(long, env = "OSCAR_API_KEY")]
        api_key: Option<String>,
        /// Directory with full applications.
        #[arg(long, default_value = "examples")]
        examples: PathBuf,
        /// Directory with golden cases (base + patch).
        #[arg(long, default_value = "tests/cases")]
        cases: PathBuf,
    },
}

/// How a ledger commit reaches the disk (`serve --ledger-sync`).
#[derive(Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
enum LedgerSync {
    /// Every commit flushed before the answer: survives a power cut.
    Full,
    /// Flushed at checkpoints: survives a crash of the process, not a power cut.
    Normal,
}

/// Options of `oscar serve`; every one can also come from the environment.
#[derive(clap::Args)]
struct ServeArgs {
    /// Address to listen on.
    #[arg(long, env = "OSCAR_ADDR", default_value = "127.0.0.1:8080")]
    addr: std::net::SocketAddr,
    /// Registry directory (default: the embedded demo registry).
    #[arg(long, env = "OSCAR_REGISTRY", conflicts_with = "registry_url")]
    registry: Option<PathBuf>,
    /// Registry service URL (`oscar registry-serve`).
    #[arg(long, env = "OSCAR_REGISTRY_URL")]
    registry_url: Option<String>,
    /// Timeout of one registry call, milliseconds.
    #[arg(long, env = "OSCAR_REGISTRY_TIMEOUT_MS", default_value_t = 250)]
    registry_timeout_ms: u64,
    /// Registry retries after the first try.
    #[arg(long, env = "OSCAR_REGISTRY_RETRIES", default_value_t = 2)]
    registry_retries: u32,
    /// Registry lookups in a row that find it down before oscar stops asking for a pause
    /// (those lookups are unverified at once); 0 never stops.
    #[arg(long, env = "OSCAR_REGISTRY_BREAKER_FAILURES", default_value_t = 5)]
    registry_breaker_failures: u32,
    /// Length of that pause, milliseconds.
    #[arg(long, env = "OSCAR_REGISTRY_BREAKER_PAUSE_MS", default_value_t = 5000)]
    registry_breaker_pause_ms: u64,
    /// Rulebook TOML file; replaces the shipped rulebook of its jurisdiction.
    #[arg(long, env = "OSCAR_RULES")]
    rules: Option<PathBuf>,
    /// Road network directory.
    #[arg(long, env = "OSCAR_ROUTES")]
    routes: Option<PathBuf>,
    /// Closures GeoJSON.
    #[arg(long, env = "OSCAR_CLOSURES")]
    closures: Option<PathBuf>,
    /// Anomaly model directory (default: the shipped model).
    #[arg(long, env = "OSCAR_MODEL")]
    model: Option<PathBuf>,
    /// Ledger database file (SQLite), made by `oscar ledger init`; a missing file is refused.
    /// A `postgres://` or `postgresql://` URL names a PostgreSQL database instead, which
    /// several servers may share.
    #[arg(long, env = "OSCAR_LEDGER", default_value = "oscar-ledger.sqlite")]
    ledger: PathBuf,
    /// When a ledger commit is on the disk: `full` flushes every commit before the answer
    /// (an acknowledged review survives a power cut); `normal` only survives a crash of the
    /// process, and the last commits may be lost on power loss.
    #[arg(long, env = "OSCAR_LEDGER_SYNC", value_enum, default_value_t = LedgerSync::Full)]
    ledger_sync: LedgerSync,
    /// File the index of approved routes is kept in between runs, so that a start matches
    /// only the routes approved since it was written; derived from the ledger, safe to
    /// delete. Default: `LEDGER.route-index` beside a SQLite ledger; none for a PostgreSQL
    /// ledger unless given.
    #[arg(long, env = "OSCAR_INDEX_CACHE")]
    index_cache: Option<PathBuf>,
    /// Log lines as text (colour only on a terminal) or as JSON objects, one a line.
    #[arg(long, env = "OSCAR_LOG_FORMAT", value_enum, default_value_t = oscar::server::log::LogFormat::Text)]
    log_format: oscar::server::log::LogFormat,
    /// API key file (`NAME KEY PERMISSIONS` per line); `OSCAR_API_KEYS` holds keys inline.
    /// Without keys the server does not start, unless `--no-auth` is given.
    #[arg(long, env = "OSCAR_API_KEYS_FILE")]
    api_keys: Option<PathBuf>,
    /// Run without authentication: every caller is `anonymous` and may submit, read and add
    /// restrictions. Refused together with API keys.
    #[arg(long, env = "OSCAR_NO_AUTH", value_parser = clap::builder::BoolishValueParser::new())]
    no_auth: bool,
    /// Largest request body, bytes.
    #[arg(long, env = "OSCAR_BODY_LIMIT", default_value_t = 1 << 20)]
    body_limit: usize,
    /// Longest a request may take, milliseconds.
    #[arg(long, env = "OSCAR_REQUEST_TIMEOUT_MS", default_value_t = 10_000)]
    request_timeout_ms: u64,
    /// Longest a connection may take to send a request's headers, or stay idle, milliseconds.
    #[arg(long, env = "OSCAR_HEADER_TIMEOUT_MS", default_value_t = 10_000)]
    header_timeout_ms: u64,
    /// Reviews running at once (default: the number of cores).
    #[arg(long, env = "OSCAR_REVIEW_THREADS")]
    review_threads: Option<usize>,
    /// Largest accepted distance, seconds, between an application's `submitted_at` and the
    /// time the service received it (validity is judged against `submitted_at`).
    #[arg(long, env = "OSCAR_MAX_CLOCK_SKEW_S", default_value_t = 300)]
    max_clock_skew_s: u32,
    /// Judge by `submitted_at` alone, whatever the service's clock says: only for
    /// re-reviewing recorded applications (load tests, migrations), never for live intake.
    #[arg(long, env = "OSCAR_TRUST_SUBMITTED_AT", conflicts_with = "max_clock_skew_s")]
    trust_submitted_at: bool,
    /// Directory where signed checkpoints of the ledger are written, one file each, never
    /// overwritten (made if missing); no checkpoints without it.
    #[arg(long, env = "OSCAR_CHECKPOINT_DIR", requires = "checkpoint_key")]
    checkpoint_dir: Option<PathBuf>,
    /// Private key that signs the checkpoints (`oscar ledger keygen`).
    #[arg(long, env = "OSCAR_CHECKPOINT_KEY", requires = "checkpoint_dir")]
    checkpoint_key: Option<PathBuf>,
    /// Sign a checkpoint at every multiple of this many records.
    #[arg(long, env = "OSCAR_CHECKPOINT_EVERY", default_value = "1000")]
    checkpoint_every: std::num::NonZeroU64,
    /// Sign the head when this many seconds have passed since the last checkpoint and
    /// records came since.
    #[arg(long, env = "OSCAR_CHECKPOINT_SECONDS", default_value = "60")]
    checkpoint_seconds: std::num::NonZeroU64,
}

#[derive(Subcommand)]
enum LedgerCommand {
    /// Create a new, empty ledger file (refuses a path where a file is).
    Init {
        /// Ledger database file to create (or a `postgres://` URL: the tables are made there).
        #[arg(long, env = "OSCAR_LEDGER", default_value = "oscar-ledger.sqlite")]
        ledger: PathBuf,
    },
    /// Check the file (SQLite's integrity check, indexes included) and the hash chain;
    /// report what is damaged and the first broken record (exit 0 intact, 1 damaged or
    /// broken). Read-only: never writes the file, and may run beside a server.
    Verify {
        /// Ledger database file (or a `postgres://` URL).
        #[arg(long, env = "OSCAR_LEDGER", default_value = "oscar-ledger.sqlite")]
        ledger: PathBuf,
        /// Print the report as JSON.
        #[arg(long)]
        json: bool,
        /// Also check the chain against the signed checkpoints in this directory: each
        /// signature valid, each root the root of the ledger's records up to its size.
        #[arg(long, requires = "public_key")]
        checkpoints: Option<PathBuf>,
        /// Public key of the checkpoints (the `.pub` file of `oscar ledger keygen`).
        #[arg(long, requires = "checkpoints")]
        public_key: Option<PathBuf>,
    },
    /// Make an Ed25519 key that signs checkpoints: the private key in OUT (mode 0600), the
    /// public key in OUT.pub and on standard output. Refuses to overwrite a file.
    Keygen {
        /// Private key file to create.
        #[arg(long)]
        out: PathBuf,
        /// Name of the log, the origin line of its checkpoints (e.g. `permits.example.org/oscar`).
        #[arg(long, default_value = "oscar-ledger")]
        name: String,
    },
    /// Print, as JSON, the proof that a review is in the ledger up to a signed checkpoint:
    /// the record, its leaf, the audit path, the checkpoint and the public key
    /// (`ledger check-proof` checks it without the database).
    Prove {
        /// The application id.
        id: String,
        /// Ledger database file.
        #[arg(long, env = "OSCAR_LEDGER", default_value = "oscar-ledger.sqlite")]
        ledger: PathBuf,
        /// Prove against the latest checkpoint in this directory.
        #[arg(long, required_unless_present = "checkpoint", conflicts_with = "checkpoint")]
        checkpoints: Option<PathBuf>,
        /// Prove against this checkpoint file.
        #[arg(long)]
        checkpoint: Option<PathBuf>,
        /// Public key of the checkpoints.
        #[arg(long)]
        public_key: PathBuf,
    },
    /// Check a proof of `ledger prove` offline, with no database (exit 0 valid, 1 not).
    CheckProof {
        /// The proof (JSON).
        proof: PathBuf,
        /// The public key the checkpoint must be signed with (known beforehand, not taken
        /// from the proof).
        #[arg(long)]
        public_key: PathBuf,
    },
    /// Review a recorded application again with the data loaded now and compare (exit 0
    /// identical, 1 different, 3 not found or setup error).
    Replay {
        /// The application id.
        id: String,
        /// Ledger database file (or a `postgres://` URL).
        #[arg(long, env = "OSCAR_LEDGER", default_value = "oscar-ledger.sqlite")]
        ledger: PathBuf,
        /// Where the reference data come from.
        #[command(flatten)]
        data: DataArgs,
        /// Print the report as JSON.
        #[arg(long)]
        json: bool,
    },
}

/// Where a review's reference data come from; each defaults to what ships in the binary.
#[derive(clap::Args)]
struct DataArgs {
    /// Registry directory with companies/people/vehicles/authorizations.jsonl
    /// (default: the embedded demo registry).
    #[arg(long)]
    registry: Option<PathBuf>,
    /// Rulebook TOML file; replaces the shipped rulebook of its jurisdiction.
    #[arg(long)]
    rules: Option<PathBuf>,
    /// Road network directory made by `import-osm` (default: the embedded Helsinki network).
    #[arg(long)]
    routes: Option<PathBuf>,
    /// Temporary closures (GeoJSON; default: the embedded `routes-data/closures.geojson`).
    #[arg(long)]
    closures: Option<PathBuf>,
    /// Anomaly model directory (default: the shipped model).
    #[arg(long)]
    model: Option<PathBuf>,
}

impl DataArgs {
    fn config(self) -> ReviewerConfig {
        ReviewerConfig {
            registry: self.registry.map_or(RegistrySource::Embedded, RegistrySource::Dir),
            rules: self.rules,
            routes: self.routes,
            closures: self.closures,
            model: self.model,
        }
    }
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    if let Err(e) = exec_single_threaded() {
        eprintln!("error: cannot restart with RAYON_NUM_THREADS=1: {e}");
        return ExitCode::from(EXIT_SETUP);
    }
    match run(cli) {
        Ok(code) => ExitCode::from(code),
        Err(e) => {
            eprintln!("error: {e}");
            ExitCode::from(EXIT_SETUP)
        }
    }
}

#[derive(Debug, thiserror::Error)]
enum CliError {
    #[error(transparent)]
    Setup(#[from] SetupError),
    #[error("cannot read {0}: {1}")]
    Read(String, std::io::Error),
    #[error("cannot write {0}: {1}")]
    Write(String, std::io::Error),
    #[error("cannot print JSON: {0}")]
    Json(#[from] serde_json::Error),
    #[error(transparent)]
    Model(#[from] oscar::anomaly::ModelError),
    #[error(transparent)]
    Service(#[from] service::ServiceError),
    #[error(transparent)]
    Config(#[from] oscar::setup::ConfigError),
    #[error(transparent)]
    Eval(#[from] tooling::route_eval::EvalError),
    #[error(transparent)]
    Batch(#[from] oscar::batch::BatchError),
    #[error("{0}")]
    Missing(String),
}

/// candle fans each small matrix product out over a thread pool sized by
/// `RAYON_NUM_THREADS`, read on every product: training is bit-reproducible only with one
/// thread, and setting the variable inside a running process is unsafe. So oscar replaces
/// itself once, at start, with a copy that has it set (same process id, so signals still
/// reach a server).
#[cfg(unix)]
fn exec_single_threaded() -> std::io::Result<()> {
    use std::os::unix::process::CommandExt;
    if std::env::var("RAYON_NUM_THREADS").as_deref() == Ok("1") {
        return Ok(());
    }
    let exe = std::env::current_exe()?;
    Err(std::process::Command::new(exe).args(std::env::args_os().skip(1)).env("RAYON_NUM_THREADS", "1").exec())
}

#[cfg(not(unix))]
fn exec_single_threaded() -> std::io::Result<()> {
    Ok(())
}

/// The number of cores, the default number of threads of `batch` and `gen`.
fn cores() -> std::num::NonZeroUsize {
    std::thread::available_parallelism().unwrap_or(std::num::NonZeroUsize::MIN)
}

/// The bytes of a file or of standard input (`-`), at most one more than
/// [`INPUT_LIMIT_BYTES`]: enough to tell an input over the limit without reading it all.
fn read_input(path: &Path) -> Result<Vec<u8>, CliError> {
    let label = path.display().to_string();
    let read = |source: &mut dyn Read| {
        let mut bytes = Vec::new();
        source.take(INPUT_LIMIT_BYTES + 1).read_to_end(&mut bytes).map(|_| bytes)
    };
    let bytes = if label == "-" {
        read(&mut std::io::stdin().lock())
    } else {
        std::fs::File::open(path).and_then(|mut file| read(&mut file))
    };
    bytes.map_err(|e| CliError::Read(label, e))
}

/// The application document read by [`read_input`], as JSON, or why it is not one.
fn input_json(bytes: &[u8]) -> Result<serde_json::Value, Vec<FieldError>> {
    if bytes.len() as u64 > INPUT_LIMIT_BYTES {
        let message = format!("is larger than {} MiB, the most `oscar review` reads", INPUT_LIMIT_BYTES >> 20);
        return Err(vec![FieldError { pointer: String::new(), message }]);
    }
    oscar::application::read_json(bytes).map_err(JsonError::field_errors)
}

fn run(cli: Cli) -> Result<u8, CliError> {
    match cli.command {
        Command::Review { application, json, lang, verbose, data } => {
            let reviewer = data.config().build(&[], None)?.reviewer;
            let bytes = read_input(&application)?;
            match input_json(&bytes).and_then(|value| reviewer.review_value(&value)) {
                Ok(review) => {
                    if json {
                        println!("{}", serde_json::to_string_pretty(&review)?);
                    } else {
                        let lang = lang.unwrap_or_else(|| oscar::report::Lang::from_locale(|k| std::env::var(k).ok()));
                        print!("{}", oscar::report::render_with(&review, oscar::report::Options { lang, verbose }));
                    }
                    Ok(if review.verdict == Verdict::Approve { EXIT_APPROVE } else { EXIT_ESCALATE })
                }
                Err(errors) => {
                    if json {
                        println!("{}", serde_json::to_string_pretty(&serde_json::json!({ "errors": errors }))?);
                    } else {
                        eprintln!(
                            "{} is not a valid application ({} problem(s)):",
                            application.display(),
                            errors.len()
                        );
                        for e in &errors {
                            eprintln!("  {e}");
                        }
                    }
                    Ok(EXIT_INVALID)
                }
            }
        }
        Command::Batch { input, out, threads, data } => {
            let reviewer = data.config().build(&[], None)?.reviewer;
            let summary = oscar::batch::run(&reviewer, &input, &out, threads.unwrap_or_else(cores))?;
            eprintln!("oscar batch: {} of the input's lines done, results in {}", summary.results, out.display());
            print!("{summary}");
            Ok(if summary.bad.is_empty() { EXIT_APPROVE } else { EXIT_INVALID })
        }
        Command::Gen { count, seed, out, routes, threads } => {
            let network = match routes {
                Some(dir) => RouteNetwork::load(&dir).map_err(SetupError::from)?,
                None => oscar::embedded_routes().map_err(SetupError::from)?.network,
            };
            let label = out.as_ref().map_or_else(|| "standard output".into(), |p| p.display().to_string());
            let mut sink: Box<dyn std::io::Write> = match &out {
                Some(path) => Box::new(std::fs::File::create(path).map_err(|e| CliError::Write(label.clone(), e))?),
                None => Box::new(std::io::stdout().lock()),
            };
            let mut sink = std::io::BufWriter::new(&mut sink);
            tooling::samples::generate(&network, count, seed, threads.unwrap_or_else(cores), &mut sink)
                .map_err(|e| CliError::Write(label, e))?;
            Ok(EXIT_APPROVE)
        }
        Command::DemoRegistry { out, seed } => {
            tooling::demo_registry::write_demo(&out, seed)
                .map_err(|e| CliError::Write(out.display().to_string(), e))?;
            println!("wrote the demo registry (seed {seed}) to {}", out.display());
            Ok(EXIT_APPROVE)
        }
        Command::ImportOsm { extract, out } => {
            println!("{}", import_osm(&extract, &out).map_err(SetupError::from)?);
            Ok(EXIT_APPROVE)
        }
        Command::ImportGeojson { file, out } => {
            println!("{}", import_geojson(&file, &out).map_err(SetupError::from)?);
            Ok(EXIT_APPROVE)
        }
        Command::RoutesInfo { dir } => {
            let network = RouteNetwork::load(&dir).map_err(SetupError::from)?;
            println!("{}", network.info());
            Ok(EXIT_APPROVE)
        }
        Command::CheckRules { file } => {
            let book = LoadedRulebook::from_file(&file).map_err(SetupError::from)?;
            println!(
                "{}: valid rulebook for {} ({}), {}",
                file.display(),
                book.rules.rulebook.jurisdiction,
                book.rules.rulebook.edition,
                book.hash
            );
            Ok(EXIT_APPROVE)
        }
        Command::Train { out, seed, members } => {
            let opts = tooling::anomaly::train::TrainOptions { seed, members, ..Default::default() };
            let trained = tooling::anomaly::train::train(&opts)?;
            let config = tooling::anomaly::train::write(&out, trained)?;
            println!(
                "wrote {}/anomaly.safetensors (sha256:{}) and anomaly.json: threshold {:.4}, train MSE {:.4}, calibration MSE {:.4}",
                out.display(),
                config.safetensors_sha256,
                config.threshold,
                config.training.final_train_mse,
                config.training.calibration_mse
            );
            Ok(EXIT_APPROVE)
        }
        Command::EvalModel { model, osm_dir, extract, dump, dump_train } => {
            use tooling::anomaly::eval;
            let model = match model {
                Some(dir) => oscar::anomaly::AnomalyModel::load(&dir)?,
                None => oscar::anomaly::AnomalyModel::embedded()?,
            };
            let pbf = osm_dir.join(&extract);
            let held_out = if pbf.is_file() {
                Some(eval::held_out(&osm_dir, &extract)?)
            } else {
                let why = format!(
                    "held-out extract {} not found: routes on real roads kept out of training are NOT evaluated",
                    pbf.display()
                );
                if std::env::var("CI").as_deref() == Ok("true") {
                    return Err(CliError::Missing(why));
                }
                eprintln!("WARNING: {why}");
                None
            };
            let opts = eval::EvalOptions::default();
            let report = eval::evaluate(&model, opts, held_out.as_ref(), dump.as_deref())?;
            print!("{}", eval::render(&report, &model));
            if let Some(path) = dump {
                println!("\nwrote the evaluation feature vectors to {}", path.display());
            }
            if let Some(path) = dump_train {
                let n = eval::dump_training(&model, &model.config().training.options, &path)?;
                println!("wrote {n} training feature vectors to {}", path.display());
            }
            Ok(EXIT_APPROVE)
        }
        Command::EvalRoutes { osm_dir, restricted, random, seed, seeds, dump } => {
            let opts = tooling::route_eval::EvalOptions { restricted, random, seed };
            let dir = osm_dir.is_dir().then_some(osm_dir.as_path());
            if dir.is_none() {
                eprintln!("no extract directory at {}: evaluating the shipped network only", osm_dir.display());
            }
            if let Some(tooling::route_eval::Seeds(seeds)) = seeds {
                let runs = tooling::route_eval::run_seeds(dir, opts, &seeds)?;
                print!("{}", tooling::route_eval::render_seeds(&runs));
                return Ok(EXIT_APPROVE);
            }
            let results = tooling::route_eval::run(dir, opts, dump.as_deref())?;
            print!("{}", tooling::route_eval::render(&results));
            if let Some(path) = dump {
                println!("\nwrote {} routes to {}", results.len(), path.display());
            }
            Ok(EXIT_APPROVE)
        }
        Command::Serve(args) => Ok(service::serve(*args)?),
        Command::RegistryServe { dir, addr, delay_ms } => Ok(service::registry_serve(&dir, addr, delay_ms)?),
        Command::Ledger { action: LedgerCommand::Init { ledger } } => Ok(service::ledger_init(&ledger)?),
        Command::Ledger { action: LedgerCommand::Verify { ledger, json, checkpoints, public_key } } => {
            Ok(service::ledger_verify(&ledger, json, checkpoints.as_deref().zip(public_key.as_deref()))?)
        }
        Command::Ledger { action: LedgerCommand::Keygen { out, name } } => Ok(service::ledger_keygen(&out, &name)?),
        Command::Ledger { action: LedgerCommand::Prove { id, ledger, checkpoints, checkpoint, public_key } } => {
            Ok(service::ledger_prove(&ledger, &id, checkpoint.as_deref(), checkpoints.as_deref(), &public_key)?)
        }
        Command::Ledger { action: LedgerCommand::CheckProof { proof, public_key } } => {
            Ok(service::ledger_check_proof(&proof, &public_key)?)
        }
        Command::Ledger { action: LedgerCommand::Replay { id, ledger, data, json } } => {
            Ok(service::ledger_replay(&ledger, &id, &data.config(), json)?)
        }
        Command::Loadtest { url, concurrency, duration, json, api_key, examples, cases } => {
            let opts = tooling::loadtest::LoadOptions {
                url,
                concurrency,
                duration: std::time::Duration::from_secs(duration),
                api_key,
                examples,
                cases,
                id_prefix: format!("LT-{}", chrono::Utc::now().format("%Y%m%d%H%M%S%3f")),
            };
            Ok(service::loadtest(opts, json)?)
        }
    }
}
