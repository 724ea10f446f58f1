//! Reproducible training: the same seed gives bit-identical weights.
//!
//! Everything random comes from [`SplitMix64`] streams derived from the seed (data, weight
//! initialisation, mini-batch order); candle's own RNG is never used. Matrix products must
//! run single-threaded (`RAYON_NUM_THREADS=1`, which `oscar train` sets for itself) so
//! that sums are always added in the same order.

use std::collections::HashMap;
use std::path::Path;

use candle_core::{DType, Device, Tensor, Var};
use candle_nn::{AdamW, Optimizer, ParamsAdamW};

use std::collections::BTreeMap;

use super::generator::{Roads, Sample, SplitMix64, normal_samples, road_samples};
use crate::anomaly::features::{FEATURES, Features, N_FEATURES};
pub use crate::anomaly::model::TrainOptions;
use crate::anomaly::model::{
    Architecture, Autoencoder, Baseline, Comparable, FORMAT_VERSION, FeatureSpec, HIDDEN, LATENT, LAYERS, MAX_MEMBERS,
    ModelConfig, ModelError, Network, TrainingInfo, counts, ensemble_score, sha256_hex, standardise, tensor_name,
};

/// Seed of the shipped model.
pub const DEFAULT_SEED: u64 = 20261120;
/// Autoencoders in the shipped ensemble.
pub const MEMBERS: usize = 8;
/// Threshold quantile of the calibration scores.
pub const THRESHOLD_QUANTILE: f64 = 0.995;
/// Smallest feature standard deviation: constant features (e.g. axle-count mismatch, always
/// 0 in normal data) must not divide by zero, and a one-unit change must still stand out.
const STD_FLOOR: f64 = 0.01;
/// Smallest residual scale (standardised units), so that a feature the network reproduces
/// almost exactly (a count or a flag it can work out from the others) does not turn a
/// rounding step into a score.
const RESIDUAL_FLOOR: f64 = 0.1;
/// Smallest baseline MAD-sigma.
const MAD_FLOOR: f64 = 0.01;

/// Salts deriving the independent streams from the seed.
const SALT_CALIBRATION: u64 = 0xCA11_B8A7_E000_0001;
const SALT_INIT: u64 = 0x1417_1A11_5E00_0002;
const SALT_ORDER: u64 = 0x0DE2_0F0B_A7C4_0003;
const SALT_ROADS: u64 = 0x20AD_5000_0000_0004;
/// Multiplied by the member's index and mixed into its initialisation and order streams
/// (member 0 keeps the training seed's own streams).
const SALT_MEMBER: u64 = 0x9E37_79B9_7F4A_7C15;
/// Fewest values a comparable group needs for its own typical range of a feature.
const MIN_GROUP: usize = 30;

impl Default for TrainOptions {
    fn default() -> Self {
        TrainOptions {
            seed: DEFAULT_SEED,
            train_samples: 8000,
            calibration_samples: 4000,
            epochs: 250,
            batch_size: 64,
            learning_rate: 3e-3,
            road_share: 0.5,
            members: MEMBERS,
        }
    }
}

/// A trained model before it is written: the tensors and the description (without the
/// hash, which depends on the written bytes).
pub struct Trained {
    /// Weights by name.
    pub tensors: HashMap<String, Tensor>,
    /// Description; `safetensors_sha256` is filled in by [`write`].
    pub config: ModelConfig,
}

/// The seed of the calibration set for a training seed.
pub fn calibration_seed(seed: u64) -> u64 {
    seed ^ SALT_CALIBRATION
}

/// `n` normal samples from `seed`: `road_share` of them with routes on `roads`, the rest
/// with synthetic routes.
pub fn normal_set(seed: u64, n: usize, road_share: f64, roads: &Roads) -> Vec<Sample> {
    let on_roads = ((n as f64 * road_share).round() as usize).min(n);
    let mut set = normal_samples(seed, n - on_roads);
    set.extend(road_samples(seed ^ SALT_ROADS, on_roads, roads));
    set
}

/// The training and calibration features `opts` describe, and the version of the road
/// network (the shipped Helsinki one, so training needs nothing outside the repository)
/// their road routes are drawn on.
pub fn training_features(opts: &TrainOptions) -> Result<(Vec<Features>, Vec<Features>, String), ModelError> {
    let data = crate::embedded_routes()?;
    let roads = Roads::new(&data.network);
    let feats = |set: Vec<Sample>| -> Vec<Features> { set.iter().map(Sample::features).collect() };
    let train = feats(normal_set(opts.seed, opts.train_samples, opts.road_share, &roads));
    let cal = feats(normal_set(calibration_seed(opts.seed), opts.calibration_samples, opts.road_share, &roads));
    Ok((train, cal, data.network.version().to_string()))
}

/// Mean and floored standard deviation of each feature over the samples that have it.
pub fn mean_std(feats: &[Features]) -> (Vec<f64>, Vec<f64>) {
    (0..N_FEATURES)
        .map(|j| {
            let col = column(feats, j);
            let n = col.len().max(1) as f64;
            let mean = col.iter().sum::<f64>() / n;
            let var = col.iter().map(|x| (x - mean) * (x - mean)).sum::<f64>() / n;
            (mean, var.sqrt().max(STD_FLOOR))
        })
        .unzip()
}

/// The `q` quantile (nearest rank) of values.
pub fn quantile(values: &[f64], q: f64) -> f64 {
    let mut v: Vec<f64> = values.iter().copied().filter(|x| x.is_finite()).collect();
    if v.is_empty() {
        return 0.0;
    }
    v.sort_by(f64::total_cmp);
    let rank = ((q * v.len() as f64).ceil() as usize).clamp(1, v.len());
    v[rank - 1]
}

/// The values of feature `j`, leaving out the samples where it is missing.
fn column<'a>(feats: impl IntoIterator<Item = &'a Features>, j: usize) -> Vec<f64> {
    feats.into_iter().filter(|f| !f.missing[j]).map(|f| f.values[j]).collect()
}

/// 1st and 99th percentile of each feature; `None` where fewer than `min` samples have it.
fn ranges(feats: &[&Features], min: usize) -> Vec<Option<[f64; 2]>> {
    (0..N_FEATURES)
        .map(|j| {
            let col = column(feats.iter().copied(), j);
            (col.len() >= min).then(|| [quantile(&col, 0.01), quantile(&col, 0.99)])
        })
        .collect()
}

/// Typical ranges per cargo category and kind of combination, for groups of at least
/// [`MIN_GROUP`] samples, in name order.
fn comparable(feats: &[Features], overall: &[[f64; 2]]) -> Vec<Comparable> {
    let mut groups: BTreeMap<(&str, &str), Vec<&Features>> = BTreeMap::new();
    for f in feats {
        if let (Some(cat), Some(comb)) = (f.category, f.combination()) {
            groups.entry((cat, comb)).or_default().push(f);
        }
    }
    groups
        .into_iter()
        .filter(|(_, g)| g.len() >= MIN_GROUP)
        .map(|((category, combination), g)| Comparable {
            category: category.into(),
            combination: combination.into(),
            samples: g.len(),
            typical_range: ranges(&g, MIN_GROUP).into_iter().zip(overall).map(|(r, o)| r.unwrap_or(*o)).collect(),
        })
        .collect()
}

/// Baseline statistics: median and 1.4826 × MAD of each feature.
pub fn baseline_stats(feats: &[Features]) -> (Vec<f64>, Vec<f64>) {
    (0..N_FEATURES)
        .map(|j| {
            let col = column(feats, j);
            let med = quantile(&col, 0.5);
            let dev: Vec<f64> = col.iter().map(|x| (x - med).abs()).collect();
            // Iglewicz-Hoaglin: where over half the values sit on the median (counts, flags)
            // the MAD is 0, and the mean absolute deviation stands in for it.
            let mad = 1.4826 * quantile(&dev, 0.5);
            let mean_ad = 1.2533 * dev.iter().sum::<f64>() / dev.len().max(1) as f64;
            (med, if mad > 0.0 { mad } else { mean_ad }.max(MAD_FLOOR))
        })
        .unzip()
}

/// The baseline score: the largest robust z-score over the features present.
pub fn baseline_score(f: &Features, median: &[f64], mad: &[f64]) -> f64 {
    (0..N_FEATURES)
        .filter(|j| counts(*j, &f.missing))
        .map(|j| (f.values[j] - median[j]).abs() / mad[j])
        .fold(0.0, f64::max)
}

/// Trains ensemble member `member` on the standardised training rows `x` (n × F) and adds
/// its weights, named by [`tensor_name`], to `tensors`.
fn fit(
    opts: &TrainOptions,
    member: usize,
    x: &Tensor,
    tensors: &mut HashMap<String, Tensor>,
) -> Result<(), ModelError> {
    let dev = Device::Cpu;
    let n = x.dim(0)?;
    let salt = (member as u64).wrapping_mul(SALT_MEMBER);
    // Xavier-uniform initialisation from our own stream; biases start at zero.
    let mut init = SplitMix64::new(opts.seed ^ SALT_INIT ^ salt);
    let mut vars: Vec<(String, Var)> = Vec::new();
    for (name, i, o) in LAYERS {
        let a = (6.0 / (i + o) as f64).sqrt();
        let w: Vec<f32> = (0..i * o).map(|_| init.uniform(-a, a) as f32).collect();
        let w = Var::from_tensor(&Tensor::from_vec(w, (o, i), &dev)?)?;
        let b = Var::from_tensor(&Tensor::zeros(o, DType::F32, &dev)?)?;
        vars.push((tensor_name(member, name, "weight"), w));
        vars.push((tensor_name(member, name, "bias"), b));
    }
    let tensors_of = |vars: &[(String, Var)]| -> HashMap<String, Tensor> {
        vars.iter().map(|(k, v)| (k.clone(), v.as_tensor().clone())).collect()
    };
    let params = ParamsAdamW { lr: opts.learning_rate, weight_decay: 0.0, ..ParamsAdamW::default() };
    let mut opt = AdamW::new(vars.iter().map(|(_, v)| v.clone()).collect(), params)?;

    // The network holds clones of the variables' tensors; AdamW updates them in place.
    let net = Autoencoder::from_tensors(&tensors_of(&vars), member)?;
    let mut order_rng = SplitMix64::new(opts.seed ^ SALT_ORDER ^ salt);
    let mut order: Vec<u32> = (0..n as u32).collect();
    let batch = opts.batch_size.max(1);
    for _ in 0..opts.epochs {
        // Fisher-Yates with our stream: a fixed, seed-determined mini-batch order.
        for i in (1..order.len()).rev() {
            let j = (order_rng.next_u64() % (i as u64 + 1)) as usize;
            order.swap(i, j);
        }
        for chunk in order.chunks(batch) {
            let idx = Tensor::from_vec(chunk.to_vec(), chunk.len(), &dev)?;
            let xb = x.index_select(&idx, 0)?;
            let loss = (net.forward(&xb)? - &xb)?.sqr()?.mean_all()?;
            opt.backward_step(&loss)?;
        }
    }
    tensors.extend(tensors_of(&vars));
    Ok(())
}

/// Trains a model.
pub fn train(opts: &TrainOptions) -> Result<Trained, ModelError> {
    let (train_f, cal_f, road_network) = training_features(opts)?;
    let (mean, std) = mean_std(&train_f);
    let x = Tensor::from_vec(standardise(&train_f, &mean, &std), (train_f.len(), N_FEATURES), &Device::Cpu)?;
    let members = opts.members;
    if !(1..=MAX_MEMBERS).contains(&members) {
        return Err(ModelError::Invalid(format!(
            "{members} ensemble members asked for, 1 to {MAX_MEMBERS} can be trained"
        )));
    }
    let mut tensors = HashMap::new();
    for member in 0..members {
        fit(opts, member, &x, &mut tensors)?;
    }
    // Calibrated with the inference code the service scores with.
    let nets = (0..members).map(|k| Autoencoder::from_tensors(&tensors, k)).collect::<Result<Vec<_>, ModelError>>()?;
    let net = Network::of(&nets)?;
    // Each member's errors: one row a sample, one entry a feature.
    let errors = |feats: &[Features]| -> Vec<Vec<Vec<f64>>> {
        let z = standardise(feats, &mean, &std);
        net.reconstruct(&z)
            .iter()
            .map(|out| {
                out.chunks(N_FEATURES)
                    .zip(z.chunks(N_FEATURES))
                    .map(|(o, z)| o.iter().zip(z).map(|(a, b)| f64::from(a - b)).collect())
                    .collect()
            })
            .collect()
    };
    // The members' mean.
    let mse = |e: &[Vec<Vec<f64>>]| {
        e.iter()
            .map(|m| m.iter().flatten().map(|x| x * x).sum::<f64>() / (m.len() * N_FEATURES).max(1) as f64)
            .sum::<f64>()
            / e.len().max(1) as f64
    };
    let train_err = errors(&train_f);
    // Over the samples that have the feature: a missing one is trivially reconstructed (its
    // input is the mean) and would shrink the scale of the others' surprise.
    let residual_scale: Vec<Vec<f64>> = train_err
        .iter()
        .map(|member| {
            (0..N_FEATURES)
                .map(|j| {
                    let sq: Vec<f64> =
                        member.iter().zip(&train_f).filter(|(_, f)| !f.missing[j]).map(|(e, _)| e[j] * e[j]).collect();
                    (sq.iter().sum::<f64>() / sq.len().max(1) as f64).sqrt().max(RESIDUAL_FLOOR)
                })
                .collect()
        })
        .collect();
    let cal_err = errors(&cal_f);
    let cal_scores: Vec<f64> = cal_f
        .iter()
        .enumerate()
        .map(|(i, f)| {
            let members: Vec<[f64; N_FEATURES]> = cal_err
                .iter()
                .zip(&residual_scale)
                .map(|(member, scale)| {
                    let mut r = [0.0; N_FEATURES];
                    for j in 0..N_FEATURES {
                        r[j] = member[i][j] / scale[j];
                    }
                    r
                })
                .collect();
            ensemble_score(&members, &f.missing)
        })
        .collect();
    let threshold = quantile(&cal_scores, THRESHOLD_QUANTILE);
    let (median, mad) = baseline_stats(&train_f);
    let cal_base: Vec<f64> = cal_f.iter().map(|f| baseline_score(f, &median, &mad)).collect();
    let baseline_threshold = quantile(&cal_base, THRESHOLD_QUANTILE);
    let all: Vec<&Features> = train_f.iter().collect();
    let typical_range: Vec<[f64; 2]> = ranges(&all, 1).into_iter().map(|r| r.unwrap_or([0.0, 0.0])).collect();
    let comparable = comparable(&train_f, &typical_range);

    let config = ModelConfig {
        format_version: FORMAT_VERSION,
        features: FEATURES
            .iter()
            .map(|f| FeatureSpec { name: f.name.into(), unit: f.unit.into(), meaning: f.meaning.into() })
            .collect(),
        architecture: Architecture {
            input: N_FEATURES,
            hidden: HIDDEN,
            latent: LATENT,
            activation: "tanh".into(),
            members,
        },
        mean,
        std,
        residual_scale,
        typical_range,
        comparable,
        threshold,
        baseline: Baseline { median, mad, threshold: baseline_threshold },
        training: TrainingInfo {
            options: TrainOptions { batch_size: opts.batch_size.max(1), members, ..opts.clone() },
            final_train_mse: mse(&train_err),
            calibration_mse: mse(&cal_err),
            threshold_quantile: THRESHOLD_QUANTILE,
            calibration_escalation_rate: cal_scores.iter().filter(|s| **s >= threshold).count() as f64
                / cal_scores.len().max(1) as f64,
            road_network,
        },
        safetensors_sha256: String::new(),
    };
    Ok(Trained { tensors, config })
}

/// Writes `anomaly.safetensors` and `anomaly.json` into `out` and returns the description.
pub fn write(out: &Path, trained: Trained) -> Result<ModelConfig, ModelError> {
    let io = |path: &Path| {
        let path = path.to_path_buf();
        move |source| ModelError::Io { path, source }
    };
    std::fs::create_dir_all(out).map_err(io(out))?;
    let weights = out.join("anomaly.safetensors");
    candle_core::safetensors::save(&trained.tensors, &weights)?;
    let bytes = std::fs::read(&weights).map_err(io(&weights))?;
    let mut config = trained.config;
    config.safetensors_sha256 = sha256_hex(&bytes);
    let json = out.join("anomaly.json");
    std::fs::write(&json, serde_json::to_string_pretty(&config)? + "\n").map_err(io(&json))?;
    Ok(config)
}
