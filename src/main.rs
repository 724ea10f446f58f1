//! The `oscar` command line: a thin wrapper over the library.

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use clap::{Parser, Subcommand};
use oscar::registry::{JsonlRegistry, Registry};
use oscar::review::Verdict;
use oscar::rulebook::LoadedRulebook;
use oscar::{Reviewer, SetupError};

/// Exit code: the application was approved.
const EXIT_APPROVE: u8 = 0;
/// Exit code: the application was escalated to a reviewer.
const EXIT_ESCALATE: u8 = 1;
/// Exit code: the application is invalid (field errors printed).
const EXIT_INVALID: u8 = 2;
/// Exit code: oscar could not start (unreadable file, bad rulebook or registry).
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
}

fn reviewer(registry: Option<&Path>, rules: Option<&Path>) -> Result<Reviewer, SetupError> {
    let mut books = LoadedRulebook::embedded()?;
    if let Some(path) = rules {
        books.push(LoadedRulebook::from_file(path)?);
    }
    let registry: Box<dyn Registry> = match registry {
        Some(dir) => Box::new(JsonlRegistry::load(dir)?),
        None => Box::new(JsonlRegistry::embedded_demo()?),
    };
    Ok(Reviewer::new(books, registry))
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
        Command::Review { application, json, registry, rules } => {
            let reviewer = reviewer(registry.as_deref(), rules.as_deref())?;
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
    }
}
