//! The anomaly model: an ensemble of small autoencoders (F → 32 → 8 → 32 → F, tanh; trained
//! with candle from different seeds) over standardised features, scored by the mean of the
//! members' scores, each its standardised reconstruction error.
//!
//! `anomaly.safetensors` holds the weights of every member; `anomaly.json` ([`ModelConfig`])
//! holds the feature list, normalisation, residual scales, threshold, baseline statistics,
//! training metrics and the weights' sha256. Loading checks all of it and fails with a clear error.

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use candle_core::{DType, Device, Tensor};
use candle_nn::{Linear, Module};
use serde::{Deserialize, Serialize};

use super::features::{Display, FEATURES, Features, N_FEATURES};
use crate::review::AnomalyBlock;

/// Version of the `anomaly.json` / `anomaly.safetensors` pair this code reads.
pub const FORMAT_VERSION: u32 = 2;
/// Hidden layer width.
pub const HIDDEN: usize = 32;
/// Bottleneck width.
pub const LATENT: usize = 8;
/// Most ensemble members a description may declare: each costs a pass through the network
/// on every review.
pub const MAX_MEMBERS: usize = 16;
/// The layers, in order, with their (in, out) sizes.
pub const LAYERS: [(&str, usize, usize); 4] =
    [("enc1", N_FEATURES, HIDDEN), ("enc2", HIDDEN, LATENT), ("dec1", LATENT, HIDDEN), ("dec2", HIDDEN, N_FEATURES)];
/// How many contributors a block lists.
const TOP_CONTRIBUTORS: usize = 3;
/// How many of the largest residuals a block weighs as contributors.
const CANDIDATES: usize = 6;
/// Standardised inputs are clamped here so that a ×10⁶ slip stays finite in f32.
const Z_CLAMP: f64 = 1000.0;

/// Why a model could not be loaded, trained or written.
#[derive(Debug, thiserror::Error)]
pub enum ModelError {
    /// A file could not be read or written.
    #[error("cannot access {path}: {source}")]
    Io {
        /// The file.
        path: PathBuf,
        /// The cause.
        source: std::io::Error,
    },
    /// `anomaly.json` is not valid.
    #[error("anomaly.json is not a valid model description: {0}")]
    Json(#[from] serde_json::Error),
    /// Written by another format version.
    #[error("anomaly.json has format version {found}, this oscar reads version {expected}; retrain with `oscar train`")]
    Version {
        /// In the file.
        found: u32,
        /// Understood here.
        expected: u32,
    },
    /// The feature list differs from the one this code computes.
    #[error("anomaly.json lists different features than this oscar computes: {0}; retrain with `oscar train`")]
    Features(String),
    /// A tensor is absent.
    #[error("anomaly.safetensors has no tensor `{0}`")]
    MissingTensor(String),
    /// A tensor has the wrong shape or type.
    #[error("tensor `{name}` in anomaly.safetensors has shape {found:?}, expected {expected:?} (f32)")]
    Shape {
        /// Tensor name.
        name: String,
        /// What the architecture needs.
        expected: Vec<usize>,
        /// What the file holds.
        found: Vec<usize>,
    },
    /// The weights are not the ones the description was written for.
    #[error("anomaly.safetensors has sha256 {found}, but anomaly.json was written for {expected}")]
    Hash {
        /// From anomaly.json.
        expected: String,
        /// Of the bytes read.
        found: String,
    },
    /// A statistic in anomaly.json is out of range.
    #[error("anomaly.json is inconsistent: {0}")]
    Invalid(String),
    /// candle refused an operation.
    #[error("tensor operation failed: {0}")]
    Candle(#[from] candle_core::Error),
    /// The road network training or evaluation draws routes on was refused.
    #[error("road network for training or evaluation routes: {0}")]
    Routes(#[from] crate::routes::RoutesError),
}

/// One feature as recorded in `anomaly.json`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FeatureSpec {
    /// Name.
    pub name: String,
    /// Unit of the stored value.
    pub unit: String,
    /// Meaning.
    pub meaning: String,
}

/// Layer sizes.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Architecture {
    /// Input and output width (the number of features).
    pub input: usize,
    /// Hidden layers' width.
    pub hidden: usize,
    /// Bottleneck width.
    pub latent: usize,
    /// Activation of the hidden layers.
    pub activation: String,
    /// Autoencoders in the ensemble, each trained from its own seed; the score is the mean
    /// of theirs.
    pub members: usize,
}

/// Per-feature statistics of the baseline detector (robust z-score max).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Baseline {
    /// Median of each feature on the training set.
    pub median: Vec<f64>,
    /// 1.4826 × median absolute deviation (floored), so it estimates a standard deviation.
    pub mad: Vec<f64>,
    /// Threshold: 99.5th percentile of the baseline score on the calibration set.
    pub threshold: f64,
}

/// Training settings.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TrainOptions {
    /// Seed of every random stream.
    pub seed: u64,
    /// Normal samples to train on.
    pub train_samples: usize,
    /// Held-out normal samples for the threshold.
    pub calibration_samples: usize,
    /// Passes over the training set.
    pub epochs: usize,
    /// Mini-batch size.
    pub batch_size: usize,
    /// AdamW learning rate.
    pub learning_rate: f64,
    /// Share of training and calibration samples whose routes are drawn on the shipped
    /// road network (the rest are synthetic routes off it).
    pub road_share: f64,
    /// Autoencoders in the ensemble, trained on the same data from different seeds.
    pub members: usize,
}

/// How the model was trained; all of it is reproducible from the seed.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TrainingInfo {
    /// The settings used.
    #[serde(flatten)]
    pub options: TrainOptions,
    /// Mean squared reconstruction error (standardised units) on the training set, last epoch.
    pub final_train_mse: f64,
    /// The same on the calibration set.
    pub calibration_mse: f64,
    /// Quantile of calibration scores used as the threshold.
    pub threshold_quantile: f64,
    /// Share of calibration samples at or above the threshold.
    pub calibration_escalation_rate: f64,
    /// Version of the road network the road routes were drawn on.
    pub road_network: String,
}

/// Typical ranges among comparable applications: one cargo category on one kind of
/// combination.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Comparable {
    /// Cargo category.
    pub category: String,
    /// Kind of combination (`rigid truck`, `semi-trailer`, `hydraulic modular trailer`).
    pub combination: String,
    /// Training samples in the group.
    pub samples: usize,
    /// 1st and 99th percentile of each feature in the group (the overall range where the
    /// group has too few values of it).
    pub typical_range: Vec<[f64; 2]>,
}

/// The contents of `anomaly.json`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ModelConfig {
    /// [`FORMAT_VERSION`] when written.
    pub format_version: u32,
    /// The features, in input order.
    pub features: Vec<FeatureSpec>,
    /// Layer sizes.
    pub architecture: Architecture,
    /// Training mean of each feature (the standardisation offset).
    pub mean: Vec<f64>,
    /// Training standard deviation of each feature (floored).
    pub std: Vec<f64>,
    /// RMS reconstruction error of each feature on the training set (floored), one list per
    /// ensemble member: a member's score divides each feature's error by its own.
    pub residual_scale: Vec<Vec<f64>>,
    /// 1st and 99th percentile of each feature on the training set, shown as "typical"
    /// where no comparable group applies.
    pub typical_range: Vec<[f64; 2]>,
    /// Typical ranges by cargo category and kind of combination.
    pub comparable: Vec<Comparable>,
    /// At or above this score a review escalates.
    pub threshold: f64,
    /// The baseline detector, calibrated the same way.
    pub baseline: Baseline,
    /// How it was trained.
    pub training: TrainingInfo,
    /// sha256 (hex) of `anomaly.safetensors`.
    pub safetensors_sha256: String,
}

/// The name of a tensor of ensemble member `member`: `m<member>.<layer>.<part>`.
pub fn tensor_name(member: usize, layer: &str, part: &str) -> String {
    format!("m{member}.{layer}.{part}")
}

/// One autoencoder: four linear layers, tanh between them.
#[derive(Debug, Clone)]
pub struct Autoencoder {
    layers: Vec<Linear>,
}

impl Autoencoder {
    /// Member `member` from weight tensors named `m<member>.<layer>.weight` (out × in) and
    /// `m<member>.<layer>.bias` (out), checking every shape.
    pub fn from_tensors(tensors: &HashMap<String, Tensor>, member: usize) -> Result<Autoencoder, ModelError> {
        let get = |name: String, expected: Vec<usize>| -> Result<Tensor, ModelError> {
            let t = tensors.get(&name).ok_or_else(|| ModelError::MissingTensor(name.clone()))?;
            if t.dims() != expected.as_slice() || t.dtype() != DType::F32 {
                return Err(ModelError::Shape { name, expected, found: t.dims().to_vec() });
            }
            Ok(t.clone())
        };
        let layers = LAYERS
            .iter()
            .map(|(name, i, o)| {
                let w = get(tensor_name(member, name, "weight"), vec![*o, *i])?;
                let b = get(tensor_name(member, name, "bias"), vec![*o])?;
                Ok(Linear::new(w, Some(b)))
            })
            .collect::<Result<Vec<_>, ModelError>>()?;
        Ok(Autoencoder { layers })
    }

    /// Reconstructs a (batch × F) tensor of standardised features.
    pub fn forward(&self, x: &Tensor) -> candle_core::Result<Tensor> {
        let last = self.layers.len().saturating_sub(1);
        let mut h = x.clone();
        for (i, layer) in self.layers.iter().enumerate() {
            h = layer.forward(&h)?;
            if i < last {
                h = h.tanh()?;
            }
        }
        Ok(h)
    }
}

/// The ensemble's weights copied out of candle, for inference. candle's per-operation
/// overhead (a tensor for every step) cost about 15 µs a review on one tiny network; these
/// loops take about 3 µs a member (`benches/anomaly.rs`). Training keeps candle, which it
/// needs for the gradients.
#[derive(Debug, Clone)]
pub struct Network {
    members: Vec<Vec<Dense>>,
}

/// One linear layer: `weight` is out × in, row-major.
#[derive(Debug, Clone)]
struct Dense {
    weight: Vec<f32>,
    bias: Vec<f32>,
}

impl Network {
    /// The current weights of the candle networks of an ensemble.
    pub fn of(nets: &[Autoencoder]) -> Result<Network, ModelError> {
        let members = nets
            .iter()
            .map(|net| {
                net.layers
                    .iter()
                    .map(|l| {
                        let weight = l.weight().flatten_all()?.to_vec1::<f32>()?;
                        let bias = match l.bias() {
                            Some(b) => b.to_vec1::<f32>()?,
                            None => vec![0.0; l.weight().dim(0)?],
                        };
                        Ok(Dense { weight, bias })
                    })
                    .collect::<Result<Vec<_>, ModelError>>()
            })
            .collect::<Result<Vec<_>, ModelError>>()?;
        Ok(Network { members })
    }

    /// Each member's reconstruction of standardised rows (row-major, [`N_FEATURES`] a row),
    /// in member order.
    pub fn reconstruct(&self, z: &[f32]) -> Vec<Vec<f32>> {
        let (mut h, mut next) = (Vec::with_capacity(HIDDEN), Vec::with_capacity(HIDDEN));
        self.members
            .iter()
            .map(|layers| {
                let last = layers.len().saturating_sub(1);
                let mut out = Vec::with_capacity(z.len());
                for row in z.chunks_exact(N_FEATURES) {
                    h.clear();
                    h.extend_from_slice(row);
                    for (i, layer) in layers.iter().enumerate() {
                        next.clear();
                        let inputs = h.len();
                        next.extend(layer.weight.chunks_exact(inputs).zip(&layer.bias).map(|(w, b)| {
                            let y = dot(w, &h) + b;
                            if i < last { y.tanh() } else { y }
                        }));
                        std::mem::swap(&mut h, &mut next);
                    }
                    out.extend_from_slice(&h);
                }
                out
            })
            .collect()
    }
}

/// A dot product in eight partial sums: one running sum waits for each addition before the
/// next, eight independent ones fill SIMD lanes.
fn dot(w: &[f32], x: &[f32]) -> f32 {
    let (w8, x8) = (w.chunks_exact(8), x.chunks_exact(8));
    let tail: f32 = w8.remainder().iter().zip(x8.remainder()).map(|(a, b)| a * b).sum();
    let mut acc = [0.0f32; 8];
    for (a, b) in w8.zip(x8) {
        for k in 0..8 {
            acc[k] += a[k] * b[k];
        }
    }
    acc.iter().sum::<f32>() + tail
}

pub use crate::digest::sha256_hex;

/// The shipped weights.
const EMBEDDED_WEIGHTS: &[u8] = include_bytes!("../../models/anomaly.safetensors");
/// The shipped description.
const EMBEDDED_CONFIG: &str = include_str!("../../models/anomaly.json");

/// A loaded, checked anomaly model.
#[derive(Debug, Clone)]
pub struct AnomalyModel {
    net: Network,
    config: ModelConfig,
    version: String,
}

impl AnomalyModel {
    /// Loads `anomaly.safetensors` and `anomaly.json` from a directory, checking the format
    /// version, the feature list, every shape and the weights' hash.
    pub fn load(dir: &Path) -> Result<AnomalyModel, ModelError> {
        let read = |name: &str| {
            let path = dir.join(name);
            std::fs::read(&path).map_err(|source| ModelError::Io { path, source })
        };
        let weights = read("anomaly.safetensors")?;
        let config = read("anomaly.json")?;
        let config = String::from_utf8(config).map_err(|e| ModelError::Invalid(format!("not UTF-8: {e}")))?;
        AnomalyModel::from_parts(&weights, &config)
    }

    /// The model shipped in `models/`, compiled into the binary.
    pub fn embedded() -> Result<AnomalyModel, ModelError> {
        AnomalyModel::from_parts(EMBEDDED_WEIGHTS, EMBEDDED_CONFIG)
    }

    /// From the bytes of `anomaly.safetensors` and the text of `anomaly.json`.
    pub fn from_parts(weights: &[u8], config_json: &str) -> Result<AnomalyModel, ModelError> {
        // Check the version before the rest, so an old file gets the version error.
        let raw: serde_json::Value = serde_json::from_str(config_json)?;
        let found = raw.get("format_version").and_then(serde_json::Value::as_u64).unwrap_or(0);
        if found != u64::from(FORMAT_VERSION) {
            return Err(ModelError::Version {
                found: u32::try_from(found).unwrap_or(u32::MAX),
                expected: FORMAT_VERSION,
            });
        }
        let config: ModelConfig = serde_json::from_value(raw)?;
        check_config(&config)?;
        let hash = sha256_hex(weights);
        if hash != config.safetensors_sha256 {
            return Err(ModelError::Hash { expected: config.safetensors_sha256.clone(), found: hash });
        }
        let tensors = candle_core::safetensors::load_buffer(weights, &Device::Cpu)?;
        let members = (0..config.architecture.members)
            .map(|k| Autoencoder::from_tensors(&tensors, k))
            .collect::<Result<Vec<_>, ModelError>>()?;
        let net = Network::of(&members)?;
        // The description pins the weights by their hash, so its own hash names both: a
        // changed threshold or scale is a new version too.
        let version = crate::digest::sha256_tagged(config_json.as_bytes());
        Ok(AnomalyModel { net, config, version })
    }

    /// `sha256:<hex>` of `anomaly.json` (which holds the weights' hash), recorded in every
    /// review.
    pub fn version(&self) -> &str {
        &self.version
    }

    /// The description read from `anomaly.json`.
    pub fn config(&self) -> &ModelConfig {
        &self.config
    }

    /// Scores one application's features.
    pub fn score(&self, features: &Features) -> AnomalyBlock {
        self.score_batch(std::slice::from_ref(features)).into_iter().next().unwrap_or_else(|| self.failed("no result"))
    }

    /// Scores many at once: one forward pass, for micro-batching in the service.
    pub fn score_batch(&self, batch: &[Features]) -> Vec<AnomalyBlock> {
        if batch.is_empty() {
            return Vec::new();
        }
        match self.residuals(batch) {
            Ok(rows) => batch.iter().zip(rows).map(|(f, r)| self.block(f, &r)).collect(),
            // Could-not-score is not normal: the block sits at the threshold, so it escalates.
            Err(e) => batch.iter().map(|_| self.failed(&e.to_string())).collect(),
        }
    }

    /// The raw scores of a batch (no explanation), for evaluation.
    pub fn raw_scores(&self, batch: &[Features]) -> Result<Vec<f64>, ModelError> {
        Ok(self.residuals(batch)?.iter().zip(batch).map(|(r, f)| ensemble_score(r, &f.missing)).collect())
    }

    /// Standardised inputs of a batch, flattened row-major.
    pub fn standardise(&self, batch: &[Features]) -> Vec<f32> {
        standardise(batch, &self.config.mean, &self.config.std)
    }

    /// Per-member, per-feature standardised residuals: (reconstruction − input) / residual
    /// scale.
    fn residuals(&self, batch: &[Features]) -> Result<Vec<Vec<[f64; N_FEATURES]>>, ModelError> {
        let missing: Vec<[bool; N_FEATURES]> = batch.iter().map(|f| f.missing).collect();
        Ok(self.residuals_of(&self.standardise(batch), &missing))
    }

    /// The scores of `f` with each of `features` in turn taken as typical: its input the
    /// mean (0), left out of the score.
    fn scores_without(&self, f: &Features, features: &[usize]) -> Vec<f64> {
        let z = self.standardise(std::slice::from_ref(f));
        let mut rows = Vec::with_capacity(features.len() * N_FEATURES);
        let mut missing = Vec::with_capacity(features.len());
        for &j in features {
            let at = rows.len() + j;
            rows.extend_from_slice(&z);
            rows[at] = 0.0;
            let mut m = f.missing;
            m[j] = true;
            missing.push(m);
        }
        self.residuals_of(&rows, &missing).iter().zip(&missing).map(|(r, m)| ensemble_score(r, m)).collect()
    }

    /// Residuals of standardised rows (row-major), each row with the features it lacks: for
    /// each row, one array a member.
    fn residuals_of(&self, z: &[f32], missing: &[[bool; N_FEATURES]]) -> Vec<Vec<[f64; N_FEATURES]>> {
        let outs = self.net.reconstruct(z);
        missing
            .iter()
            .enumerate()
            .map(|(b, m)| {
                let row = b * N_FEATURES..(b + 1) * N_FEATURES;
                outs.iter()
                    .zip(&self.config.residual_scale)
                    .map(|(out, scale)| standardised_residuals(&out[row.clone()], &z[row.clone()], scale, m))
                    .collect()
            })
            .collect()
    }

    fn failed(&self, why: &str) -> AnomalyBlock {
        AnomalyBlock {
            score: self.config.threshold,
            threshold: self.config.threshold,
            contributors: vec![format!("the anomaly model could not score this application ({why})")],
        }
    }

    /// The typical range of feature `j` for applications comparable with `f` (same cargo
    /// category and kind of combination), with the words naming them; all applications
    /// where the model has no such group.
    fn typical(&self, f: &Features, j: usize) -> (String, [f64; 2]) {
        let group = f
            .category
            .zip(f.combination())
            .and_then(|(cat, comb)| self.config.comparable.iter().find(|c| c.category == cat && c.combination == comb));
        match group {
            Some(c) => {
                (format!("for {} cargo on a {}", c.category.replace('_', " "), c.combination), c.typical_range[j])
            }
            None => ("for all applications".into(), self.config.typical_range[j]),
        }
    }

    /// The block of one application: its score and the features that make it.
    ///
    /// At or above the threshold they are ranked by the score the application would have
    /// were each typical, which the block says, not by each feature's own residual: one odd
    /// feature throws the reconstruction of others off too (a detour made the cargo's shape,
    /// well within its range, the largest residual), but taking the cause away clears them
    /// all. Under the threshold (most reviews) the largest residuals are listed, which
    /// costs no further pass through the network.
    fn block(&self, f: &Features, members: &[[f64; N_FEATURES]]) -> AnomalyBlock {
        let score = ensemble_score(members, &f.missing);
        // Each feature's squared residual summed over the members: how far off the ensemble
        // finds it.
        let r: Vec<f64> = (0..N_FEATURES).map(|j| members.iter().map(|m| m[j] * m[j]).sum()).collect();
        let mut order: Vec<usize> = (0..N_FEATURES).filter(|j| counts(*j, &f.missing)).collect();
        order.sort_by(|a, b| r[*b].total_cmp(&r[*a]));
        let ranked: Vec<(usize, Option<f64>)> = if score >= self.config.threshold {
            order.truncate(CANDIDATES);
            let mut ranked: Vec<(usize, f64)> = order.iter().copied().zip(self.scores_without(f, &order)).collect();
            ranked.sort_by(|a, b| a.1.total_cmp(&b.1));
            ranked.into_iter().map(|(j, w)| (j, Some(w))).collect()
        } else {
            order.into_iter().map(|j| (j, None)).collect()
        };
        let mut contributors: Vec<String> = ranked
            .into_iter()
            .take(TOP_CONTRIBUTORS)
            .map(|(j, without)| {
                let without = without.map(|w| format!(" (the score would be `{}` without it)", sig(w)));
                let info = &FEATURES[j];
                let show = |x: f64| match info.display {
                    Display::Plain => x,
                    Display::Exp => x.exp(),
                    Display::Ln1p => x.exp_m1(),
                };
                let (group, [lo, hi]) = self.typical(f, j);
                format!(
                    "{}: `{}` {}, typical {group} `{}`–`{}`{}; {}",
                    info.meaning,
                    sig(show(f.values[j])),
                    info.shown_unit,
                    sig(show(lo)),
                    sig(show(hi)),
                    without.unwrap_or_default(),
                    info.check
                )
            })
            .collect();
        contributors.extend(f.notes.iter().map(|n| format!("note: {n}")));
        AnomalyBlock { score, threshold: self.config.threshold, contributors }
    }
}

/// Whether feature `j` counts in a score: present, and not an indicator.
pub fn counts(j: usize, missing: &[bool; N_FEATURES]) -> bool {
    !missing[j] && FEATURES[j].id.scored()
}

/// How many of the largest residuals the score averages.
pub const SCORE_TOP_K: usize = 3;

/// Root mean square of the [`SCORE_TOP_K`] largest standardised residuals of the features
/// present. Not of all of them: a unit slip moves one or two features, and averaging over
/// thirty would dilute it below the noise of normal applications.
pub fn score_of(r: &[f64; N_FEATURES], missing: &[bool; N_FEATURES]) -> f64 {
    let mut sq: Vec<f64> = (0..N_FEATURES).filter(|j| counts(*j, missing)).map(|j| r[j] * r[j]).collect();
    sq.sort_by(|a, b| b.total_cmp(a));
    let top = &sq[..SCORE_TOP_K.min(sq.len())];
    (top.iter().sum::<f64>() / top.len().max(1) as f64).sqrt()
}

/// The ensemble's score: the mean of its members' [`score_of`]. Where one network's
/// reconstruction of a normal application happens to be poor, the others' usually is not, so
/// the 1 % tail of normal scores that anomalies must clear is lower than a single
/// network's.
pub fn ensemble_score(members: &[[f64; N_FEATURES]], missing: &[bool; N_FEATURES]) -> f64 {
    members.iter().map(|r| score_of(r, missing)).sum::<f64>() / members.len().max(1) as f64
}

/// One member's standardised residuals of one row: (reconstruction − input) / its residual
/// scale, 0 where the feature is missing.
pub fn standardised_residuals(
    out: &[f32],
    z: &[f32],
    scale: &[f64],
    missing: &[bool; N_FEATURES],
) -> [f64; N_FEATURES] {
    let mut r = [0.0; N_FEATURES];
    for (j, slot) in r.iter_mut().enumerate() {
        if !missing[j] {
            *slot = f64::from(out[j] - z[j]) / scale[j];
        }
    }
    r
}

/// Standardised features, row-major, clamped; missing features are the mean (0).
pub fn standardise(batch: &[Features], mean: &[f64], std: &[f64]) -> Vec<f32> {
    let mut out = Vec::with_capacity(batch.len() * N_FEATURES);
    for f in batch {
        for j in 0..N_FEATURES {
            let z = if f.missing[j] { 0.0 } else { ((f.values[j] - mean[j]) / std[j]).clamp(-Z_CLAMP, Z_CLAMP) };
            out.push(z as f32);
        }
    }
    out
}

/// Three significant digits, for explanations.
fn sig(x: f64) -> String {
    if x == 0.0 {
        // Also -0, which a reviewer should not see.
        return "0".into();
    }
    if !x.is_finite() {
        return format!("{x}");
    }
    let digits = (2 - x.abs().log10().floor() as i32).clamp(0, 12) as usize;
    format!("{x:.digits$}")
}

/// Names in backticks, or `none`.
fn listed(names: &[&str]) -> String {
    if names.is_empty() { "none".into() } else { names.iter().map(|n| format!("`{n}`")).collect::<Vec<_>>().join(", ") }
}

fn check_config(c: &ModelConfig) -> Result<(), ModelError> {
    let names: Vec<&str> = c.features.iter().map(|f| f.name.as_str()).collect();
    let ours: Vec<&str> = FEATURES.iter().map(|f| f.name).collect();
    if names != ours {
        let unknown: Vec<&str> = names.iter().copied().filter(|n| !ours.contains(n)).collect();
        let absent: Vec<&str> = ours.iter().copied().filter(|n| !names.contains(n)).collect();
        let first = names.iter().zip(&ours).position(|(a, b)| a != b).unwrap_or(names.len().min(ours.len()));
        return Err(ModelError::Features(format!(
            "{} features in the file, {} here; unknown feature names: {}; not in the file: {}; first difference at \
             position {first} (`{}` vs `{}`)",
            names.len(),
            ours.len(),
            listed(&unknown),
            listed(&absent),
            names.get(first).unwrap_or(&"none"),
            ours.get(first).unwrap_or(&"none")
        )));
    }
    let a = &c.architecture;
    if (a.input, a.hidden, a.latent) != (N_FEATURES, HIDDEN, LATENT) || a.activation != "tanh" {
        return Err(ModelError::Invalid(format!(
            "architecture {}→{}→{}→{}→{} ({}), this oscar runs {N_FEATURES}→{HIDDEN}→{LATENT}→{HIDDEN}→{N_FEATURES} (tanh)",
            a.input, a.hidden, a.latent, a.hidden, a.input, a.activation
        )));
    }
    if !(1..=MAX_MEMBERS).contains(&a.members) {
        return Err(ModelError::Invalid(format!(
            "`architecture.members` is {}, expected 1 to {MAX_MEMBERS} autoencoders",
            a.members
        )));
    }
    if let Some(g) = c.comparable.iter().find(|g| g.typical_range.len() != N_FEATURES) {
        return Err(ModelError::Invalid(format!(
            "`comparable` group {} on a {} has {} ranges, expected {N_FEATURES}",
            g.category,
            g.combination,
            g.typical_range.len()
        )));
    }
    for (name, len) in [
        ("mean", c.mean.len()),
        ("std", c.std.len()),
        ("typical_range", c.typical_range.len()),
        ("baseline.median", c.baseline.median.len()),
        ("baseline.mad", c.baseline.mad.len()),
    ] {
        if len != N_FEATURES {
            return Err(ModelError::Invalid(format!("`{name}` has {len} entries, expected {N_FEATURES}")));
        }
    }
    if c.residual_scale.len() != a.members || c.residual_scale.iter().any(|s| s.len() != N_FEATURES) {
        return Err(ModelError::Invalid(format!(
            "`residual_scale` needs {} lists (one per ensemble member) of {N_FEATURES} entries",
            a.members
        )));
    }
    let positive = |v: &[f64]| v.iter().all(|x| x.is_finite() && *x > 0.0);
    if !positive(&c.std) || !c.residual_scale.iter().all(|s| positive(s)) || !positive(&c.baseline.mad) {
        return Err(ModelError::Invalid("a scale (std, residual_scale or baseline.mad) is not positive".into()));
    }
    if !c.mean.iter().chain(&c.baseline.median).all(|x| x.is_finite()) {
        return Err(ModelError::Invalid("a mean or median is not finite".into()));
    }
    if !(c.threshold.is_finite() && c.threshold > 0.0) {
        return Err(ModelError::Invalid(format!("threshold {} is not a positive number", c.threshold)));
    }
    Ok(())
}
