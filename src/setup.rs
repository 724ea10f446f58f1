//! Building a [`Reviewer`] from its configuration (files or the shipped defaults) and the
//! temporary restrictions in force: the service builds one at start and again whenever a
//! restriction is added (it joins the closures and changes the routes version); the CLI
//! builds one for `review` and `ledger replay`.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::AtomicU64;

use tokio::runtime::Handle;

use crate::registry::{JsonlRegistry, Registry, RemoteOptions, RemoteRegistry};
use crate::routes::{Closure, RouteData, RouteNetwork, closures_from_str};
use crate::rulebook::LoadedRulebook;
use crate::{Reviewer, SetupError};

/// Where reference records come from.
#[derive(Debug, Clone, Default)]
pub enum RegistrySource {
    /// The demo registry compiled into the binary.
    #[default]
    Embedded,
    /// A JSON Lines directory.
    Dir(PathBuf),
    /// A registry service (`oscar registry-serve`).
    Url(String, RemoteOptions),
}

/// What a reviewer is built from; `None` paths mean the shipped defaults.
#[derive(Debug, Clone, Default)]
pub struct ReviewerConfig {
    /// Registry.
    pub registry: RegistrySource,
    /// Extra rulebook file (replaces the shipped one of its jurisdiction).
    pub rules: Option<PathBuf>,
    /// Road network directory.
    pub routes: Option<PathBuf>,
    /// Closures GeoJSON file.
    pub closures: Option<PathBuf>,
    /// Anomaly model directory (default: the shipped model).
    pub model: Option<PathBuf>,
}

/// Why the configuration could not be turned into a reviewer.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    /// Rulebook, registry or road data refused.
    #[error(transparent)]
    Setup(#[from] SetupError),
    /// A file could not be read.
    #[error("cannot read {0}: {1}")]
    Read(String, std::io::Error),
    /// The remote registry client could not be made.
    #[error(transparent)]
    Remote(#[from] crate::registry::RemoteError),
    /// The anomaly model was refused.
    #[error(transparent)]
    Model(#[from] crate::anomaly::ModelError),
    /// A remote registry needs a Tokio runtime.
    #[error("a remote registry needs a Tokio runtime")]
    NoRuntime,
}

/// A reviewer and, for a remote registry, its error counter.
pub struct Built {
    /// The reviewer.
    pub reviewer: Reviewer,
    /// Lookups that ended unavailable (remote registries only).
    pub registry_errors: Option<Arc<AtomicU64>>,
}

impl ReviewerConfig {
    /// Builds a reviewer whose closures are the configured ones plus `extra`. Remote
    /// registry calls are driven on `handle`.
    pub fn build(&self, extra: &[Closure], handle: Option<&Handle>) -> Result<Built, ConfigError> {
        let mut books = LoadedRulebook::embedded().map_err(SetupError::from)?;
        if let Some(path) = &self.rules {
            books.push(LoadedRulebook::from_file(path).map_err(SetupError::from)?);
        }
        let mut registry_errors = None;
        let registry: Box<dyn Registry> = match &self.registry {
            RegistrySource::Embedded => Box::new(JsonlRegistry::embedded_demo().map_err(SetupError::from)?),
            RegistrySource::Dir(dir) => Box::new(JsonlRegistry::load(dir).map_err(SetupError::from)?),
            RegistrySource::Url(url, options) => {
                let handle = handle.ok_or(ConfigError::NoRuntime)?;
                let remote = RemoteRegistry::new(url, options.clone(), handle.clone())?;
                registry_errors = Some(remote.error_counter());
                Box::new(remote)
            }
        };
        let network = match &self.routes {
            Some(dir) => RouteNetwork::load(dir).map_err(SetupError::from)?,
            None => RouteNetwork::from_bytes(Path::new("routes-data/helsinki/network.bin"), crate::EMBEDDED_NETWORK)
                .map_err(SetupError::from)?,
        };
        let (label, text) = match &self.closures {
            Some(f) => {
                (f.clone(), std::fs::read_to_string(f).map_err(|e| ConfigError::Read(f.display().to_string(), e))?)
            }
            None => (PathBuf::from("routes-data/closures.geojson"), crate::EMBEDDED_CLOSURES.to_string()),
        };
        let mut closures = closures_from_str(&label, &text).map_err(SetupError::from)?;
        let mut version_text = text;
        if !extra.is_empty() {
            closures.extend(extra.iter().cloned());
            // The restrictions join the hashed text, so the routes version says they were used.
            version_text.push_str("\n/* temporary restrictions */\n");
            version_text.push_str(&serde_json::to_string(extra).unwrap_or_default());
        }
        let routes = RouteData::new(network, closures, &version_text);
        let model = match &self.model {
            Some(dir) => crate::anomaly::AnomalyModel::load(dir)?,
            None => crate::anomaly::AnomalyModel::embedded()?,
        };
        Ok(Built { reviewer: Reviewer::new(books, registry, Some(routes)).with_model(model), registry_errors })
    }
}
