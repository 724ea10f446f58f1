//! The `oscar` command line: a thin wrapper over the library.

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use clap::{Parser, Subcommand};
use oscar::registry::{JsonlRegistry, Registry};
use oscar::review::Verdict;
use oscar::routes::{RouteData, RouteNetwork, closures_from_str, import_geojson, import_osm};
use oscar::rulebook::LoadedRulebook;
use oscar::{Reviewer, SetupError};

/// Exit code: the application was approved.
const EXIT_APPROVE: u8 = 0;
/// Exit code: the application was escalated to a reviewer.
const EXIT_ESCALATE: u8 = 1;
/// Exit code: the application is invalid (field errors printed).
const EXIT_INVALID: u8 = 2;
/// Exit code: oscar could not start (unreadable file, bad rulebook, registry or road data).
const EXIT_SETUP: u8 = 3;

#[derive(Parser)]
#[command(name = "oscar", version, about = "Oversize Cargo Automated Review")]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Review one application and print the report (exit 0 approve, 1 escalate, 2 invalid
    /// input, 3 setup error).
    Review {
        /// The application (JSON); `-` reads standard input.
        application: PathBuf,
        /// Print the review as JSON.
        #[arg(long)]
        json: bool,
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
        #[arg(long, default_value_t = oscar::registry::DEMO_SEED)]
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
        #[arg(long, default_value_t = oscar::anomaly::train::DEFAULT_SEED)]
        seed: u64,
    },
    /// Evaluate the anomaly model against the robust z-score baseline on fresh normal and
    /// planted anomalous applications.
    EvalModel {
        /// Model directory (default: the shipped model).
        #[arg(long)]
        model: Option<PathBuf>,
        /// Write the evaluation feature vectors, labels and scores to this CSV file.
        #[arg(long)]
        dump: Option<PathBuf>,
    },
}

fn main() -> ExitCode {
    match run(Cli::parse()) {
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
    #[error("cannot restart single-threaded: {0}")]
    Restart(std::io::Error),
}

/// candle splits matrix products over a thread pool sized by `RAYON_NUM_THREADS`, read on
/// every product; training is only bit-reproducible with one thread, and setting the
/// variable inside a running process is unsafe. So the command runs itself again with it.
fn rerun_single_threaded() -> Result<Option<u8>, CliError> {
    if std::env::var("RAYON_NUM_THREADS").as_deref() == Ok("1") {
        return Ok(None);
    }
    let exe = std::env::current_exe().map_err(CliError::Restart)?;
    let status = std::process::Command::new(exe)
        .args(std::env::args_os().skip(1))
        .env("RAYON_NUM_THREADS", "1")
        .status()
        .map_err(CliError::Restart)?;
    Ok(Some(status.code().and_then(|c| u8::try_from(c).ok()).unwrap_or(EXIT_SETUP)))
}

fn reviewer(
    registry: Option<&Path>,
    rules: Option<&Path>,
    routes: Option<&Path>,
    closures: Option<&Path>,
) -> Result<Reviewer, CliError> {
    let mut books = LoadedRulebook::embedded().map_err(SetupError::from)?;
    if let Some(path) = rules {
        books.push(LoadedRulebook::from_file(path).map_err(SetupError::from)?);
    }
    let registry: Box<dyn Registry> = match registry {
        Some(dir) => Box::new(JsonlRegistry::load(dir).map_err(SetupError::from)?),
        None => Box::new(JsonlRegistry::embedded_demo().map_err(SetupError::from)?),
    };
    let route_data = match (routes, closures) {
        (None, None) => oscar::embedded_routes().map_err(SetupError::from)?,
        (dir, file) => {
            let network = match dir {
                Some(dir) => RouteNetwork::load(dir).map_err(SetupError::from)?,
                None => RouteNetwork::from_bytes(Path::new("(embedded network)"), oscar::EMBEDDED_NETWORK)
                    .map_err(SetupError::from)?,
            };
            let text = match file {
                Some(f) => std::fs::read_to_string(f).map_err(|e| CliError::Read(f.display().to_string(), e))?,
                None => oscar::EMBEDDED_CLOSURES.to_string(),
            };
            let label = file.unwrap_or(Path::new("(embedded closures)"));
            let list = closures_from_str(label, &text).map_err(SetupError::from)?;
            RouteData::new(network, list, &text)
        }
    };
    let model = oscar::anomaly::AnomalyModel::embedded().map_err(SetupError::from)?;
    Ok(Reviewer::new(books, registry, Some(route_data)).with_model(model))
}

fn read_input(path: &Path) -> Result<String, CliError> {
    let label = path.display().to_string();
    if label == "-" {
        std::io::read_to_string(std::io::stdin()).map_err(|e| CliError::Read(label, e))
    } else {
        std::fs::read_to_string(path).map_err(|e| CliError::Read(label, e))
    }
}

fn run(cli: Cli) -> Result<u8, CliError> {
    match cli.command {
        Command::Review { application, json, registry, rules, routes, closures } => {
            let reviewer = reviewer(registry.as_deref(), rules.as_deref(), routes.as_deref(), closures.as_deref())?;
            let text = read_input(&application)?;
            match reviewer.review_json(&text) {
                Ok(review) => {
                    if json {
                        println!("{}", serde_json::to_string_pretty(&review)?);
                    } else {
                        print!("{}", oscar::report::render(&review));
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
        Command::DemoRegistry { out, seed } => {
            oscar::registry::write_demo(&out, seed).map_err(|e| CliError::Write(out.display().to_string(), e))?;
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
        Command::Train { out, seed } => {
            if let Some(code) = rerun_single_threaded()? {
                return Ok(code);
            }
            let opts = oscar::anomaly::train::TrainOptions { seed, ..Default::default() };
            let trained = oscar::anomaly::train::train(&opts)?;
            let config = oscar::anomaly::train::write(&out, trained)?;
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
        Command::EvalModel { model, dump } => {
            if let Some(code) = rerun_single_threaded()? {
                return Ok(code);
            }
            let model = match model {
                Some(dir) => oscar::anomaly::AnomalyModel::load(&dir)?,
                None => oscar::anomaly::AnomalyModel::embedded()?,
            };
            let opts = oscar::anomaly::eval::EvalOptions::default();
            let report = oscar::anomaly::eval::evaluate(&model, opts, dump.as_deref())?;
            print!("{}", oscar::anomaly::eval::render(&report, &model));
            if let Some(path) = dump {
                println!("\nwrote the evaluation feature vectors to {}", path.display());
            }
            Ok(EXIT_APPROVE)
        }
    }
}
