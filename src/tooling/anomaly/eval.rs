//! Evaluation: the model against the baseline (per-feature robust z-score max) on fresh
//! normal applications and on every kind of planted anomaly, in the same run: once with
//! synthetic routes, and once with routes on a road network kept out of training (an
//! extract from `../shared/data/osm/`), which is what the false-escalation target is
//! about.

use std::fmt::Write as _;
use std::path::Path;

use super::anomalies::{ANOMALY_KINDS, anomalous_samples};
use super::generator::{Roads, Sample, normal_samples, road_samples};
use super::train::{baseline_score, quantile, training_features};
use crate::anomaly::features::{FEATURES, Feature, Features};
use crate::anomaly::model::{AnomalyModel, ModelError, TrainOptions};
use crate::routes::RouteNetwork;

/// Seed of the evaluation normals; anomaly kind `k` uses `EVAL_SEED + 1 + k`. Fixed, and
/// unrelated to any training seed.
pub const EVAL_SEED: u64 = 0xE7A1_5EED_0000_0000;
/// Salt of the held-out road samples' seeds.
const SALT_HELD_OUT: u64 = 0x4E1D_0007_0000_0000;
/// The extract kept out of training, under `../shared/data/osm/`: OSM Heidelberg, a real
/// city with a river, hills and one-way systems, where the straight-line features failed.
pub const HELD_OUT_EXTRACT: &str = "heidelberg-ors.osm.pbf";

/// A road network kept out of training, with its name.
pub struct HeldOut {
    /// File name of the extract.
    pub name: String,
    /// The imported network.
    pub net: RouteNetwork,
}

/// Sizes of the evaluation sets.
#[derive(Debug, Clone, Copy)]
pub struct EvalOptions {
    /// Normal applications.
    pub normal: usize,
    /// Applications per anomaly kind.
    pub per_kind: usize,
}

impl Default for EvalOptions {
    fn default() -> Self {
        EvalOptions { normal: 3000, per_kind: 300 }
    }
}

/// Metrics of one detector on one set of anomalies.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Metrics {
    /// Area under the ROC curve against the evaluation normals.
    pub roc_auc: f64,
    /// Share of anomalies above the 99th percentile of normal scores.
    pub recall_at_1pct_fpr: f64,
    /// Share of anomalies at or above the calibrated threshold.
    pub escalated: f64,
}

/// One row of the table.
#[derive(Debug, Clone, PartialEq)]
pub struct Row {
    /// Anomaly kind, or `all`.
    pub kind: String,
    /// Number of anomalies.
    pub n: usize,
    /// The autoencoder.
    pub model: Metrics,
    /// The baseline.
    pub baseline: Metrics,
}

/// One set of routes: its normals and anomalies, and the table.
#[derive(Debug, Clone, PartialEq)]
pub struct Table {
    /// Where the routes come from: `synthetic`, or the extract's name.
    pub routes: String,
    /// Number of evaluation normals.
    pub normal: usize,
    /// Share of normals the model escalates (score at or above its threshold).
    pub model_false_escalation: f64,
    /// The same for the baseline.
    pub baseline_false_escalation: f64,
    /// Share of normals whose route was matched on the network.
    pub matched: f64,
    /// Per kind, then `all`.
    pub rows: Vec<Row>,
}

/// The whole evaluation.
#[derive(Debug, Clone, PartialEq)]
pub struct Report {
    /// Synthetic routes (as every evaluation before road routes).
    pub synthetic: Table,
    /// Routes on the held-out extract, when it was available.
    pub held_out: Option<Table>,
}

/// Area under the ROC curve: the probability that an anomaly outscores a normal (ties half).
pub fn roc_auc(positive: &[f64], negative: &[f64]) -> f64 {
    let mut neg: Vec<f64> = negative.to_vec();
    neg.sort_by(f64::total_cmp);
    if positive.is_empty() || neg.is_empty() {
        return 0.5;
    }
    let wins: f64 = positive
        .iter()
        .map(|p| {
            let below = neg.partition_point(|n| n < p);
            let not_above = neg.partition_point(|n| n <= p);
            below as f64 + 0.5 * (not_above - below) as f64
        })
        .sum();
    wins / (positive.len() as f64 * neg.len() as f64)
}

fn metrics(pos: &[f64], neg: &[f64], threshold: f64) -> Metrics {
    let at_1pct = quantile(neg, 0.99);
    let share = |pred: &dyn Fn(f64) -> bool| pos.iter().filter(|s| pred(**s)).count() as f64 / pos.len().max(1) as f64;
    Metrics {
        roc_auc: roc_auc(pos, neg),
        recall_at_1pct_fpr: share(&|s| s > at_1pct),
        escalated: share(&|s| s >= threshold),
    }
}

struct Scored {
    kind: String,
    feats: Vec<Features>,
    model: Vec<f64>,
    baseline: Vec<f64>,
}

fn score_set(model: &AnomalyModel, kind: &str, samples: &[Sample]) -> Result<Scored, ModelError> {
    score_features(model, kind, samples.iter().map(Sample::features).collect())
}

fn score_features(model: &AnomalyModel, kind: &str, feats: Vec<Features>) -> Result<Scored, ModelError> {
    let b = &model.config().baseline;
    Ok(Scored {
        kind: kind.into(),
        model: model.raw_scores(&feats)?,
        baseline: feats.iter().map(|f| baseline_score(f, &b.median, &b.mad)).collect(),
        feats,
    })
}

/// Imports the extract `name` (normally [`HELD_OUT_EXTRACT`]) from `osm_dir` (into a
/// temporary directory).
pub fn held_out(osm_dir: &Path, name: &str) -> Result<HeldOut, ModelError> {
    let net = crate::tooling::route_eval::load_extract(&osm_dir.join(name))?;
    Ok(HeldOut { name: name.into(), net })
}

/// The normals and anomalies of one set of routes (synthetic without `roads`), scored.
fn score_sets(
    model: &AnomalyModel,
    opts: EvalOptions,
    seed: u64,
    roads: Option<&Roads>,
) -> Result<(Scored, Vec<Scored>), ModelError> {
    let normals = match roads {
        Some(r) => road_samples(seed, opts.normal, r),
        None => normal_samples(seed, opts.normal),
    };
    let normal = score_set(model, "normal", &normals)?;
    let mut sets = Vec::new();
    for (k, kind) in ANOMALY_KINDS.iter().enumerate() {
        let samples = anomalous_samples(*kind, seed + 1 + k as u64, opts.per_kind, roads);
        sets.push(score_set(model, kind.name(), &samples)?);
    }
    Ok((normal, sets))
}

fn table(model: &AnomalyModel, routes: &str, normal: &Scored, sets: &[Scored]) -> Table {
    let (mt, bt) = (model.config().threshold, model.config().baseline.threshold);
    let mut rows: Vec<Row> = sets
        .iter()
        .map(|s| Row {
            kind: s.kind.clone(),
            n: s.model.len(),
            model: metrics(&s.model, &normal.model, mt),
            baseline: metrics(&s.baseline, &normal.baseline, bt),
        })
        .collect();
    let all_m: Vec<f64> = sets.iter().flat_map(|s| s.model.iter().copied()).collect();
    let all_b: Vec<f64> = sets.iter().flat_map(|s| s.baseline.iter().copied()).collect();
    rows.push(Row {
        kind: "all".into(),
        n: all_m.len(),
        model: metrics(&all_m, &normal.model, mt),
        baseline: metrics(&all_b, &normal.baseline, bt),
    });
    let rate = |v: &[f64], t: f64| v.iter().filter(|s| **s >= t).count() as f64 / v.len().max(1) as f64;
    let matched = normal.feats.iter().filter(|f| f.get(Feature::RouteOnNetwork) == Some(1.0)).count();
    Table {
        routes: routes.into(),
        normal: normal.model.len(),
        model_false_escalation: rate(&normal.model, mt),
        baseline_false_escalation: rate(&normal.baseline, bt),
        matched: matched as f64 / normal.feats.len().max(1) as f64,
        rows,
    }
}

/// Evaluates a model on synthetic routes and, with `held_out`, on routes drawn on that
/// network. With `dump`, also writes every evaluation feature vector with its label, its
/// routes and both scores as CSV.
pub fn evaluate(
    model: &AnomalyModel,
    opts: EvalOptions,
    held_out: Option<&HeldOut>,
    dump: Option<&Path>,
) -> Result<Report, ModelError> {
    let (normal, sets) = score_sets(model, opts, EVAL_SEED, None)?;
    let synthetic = table(model, "synthetic", &normal, &sets);
    let mut dumped = vec![("synthetic".to_string(), normal, sets)];
    let held_out = match held_out {
        Some(h) => {
            let roads = Roads::new(&h.net);
            let (normal, sets) = score_sets(model, opts, EVAL_SEED ^ SALT_HELD_OUT, Some(&roads))?;
            let t = table(model, &h.name, &normal, &sets);
            dumped.push((h.name.clone(), normal, sets));
            Some(t)
        }
        None => None,
    };
    if let Some(path) = dump {
        let rows = dumped.iter().flat_map(|(r, n, s)| std::iter::once(n).chain(s).map(move |x| (r.as_str(), x)));
        write_csv(path, rows)?;
    }
    Ok(Report { synthetic, held_out })
}

/// Writes the training features of `opts` (labelled `train`, their scores under `model`)
/// as CSV in the evaluation dump's format, for fitting other detectors on the same data.
pub fn dump_training(model: &AnomalyModel, opts: &TrainOptions, path: &Path) -> Result<usize, ModelError> {
    let (train, _, _) = training_features(opts)?;
    let n = train.len();
    let scored = score_features(model, "train", train)?;
    write_csv(path, std::iter::once(("training", &scored)))?;
    Ok(n)
}

fn write_csv<'a>(path: &Path, sets: impl Iterator<Item = (&'a str, &'a Scored)>) -> Result<(), ModelError> {
    let mut out = String::from("label,kind,routes,model_score,baseline_score");
    for f in &FEATURES {
        out.push(',');
        out.push_str(f.name);
    }
    out.push('\n');
    for (routes, s) in sets {
        let label = u8::from(s.kind != "normal" && s.kind != "train");
        for ((f, m), b) in s.feats.iter().zip(&s.model).zip(&s.baseline) {
            let _ = write!(out, "{label},{},{routes},{m},{b}", s.kind);
            for (v, missing) in f.values.iter().zip(&f.missing) {
                // A missing feature is an empty cell, not a made-up number.
                if *missing {
                    out.push(',');
                } else {
                    let _ = write!(out, ",{v}");
                }
            }
            out.push('\n');
        }
    }
    std::fs::write(path, out).map_err(|source| ModelError::Io { path: path.to_path_buf(), source })
}

/// The report as Markdown tables.
pub fn render(r: &Report, model: &AnomalyModel) -> String {
    let mut s = String::new();
    let c = model.config();
    let _ = writeln!(
        s,
        "model {} (seed {}), threshold {:.4}; baseline threshold {:.4}",
        model.version(),
        c.training.options.seed,
        c.threshold,
        c.baseline.threshold
    );
    for t in std::iter::once(&r.synthetic).chain(&r.held_out) {
        render_table(&mut s, t);
    }
    s
}

fn render_table(s: &mut String, t: &Table) {
    let _ = writeln!(
        s,
        "\nroutes: {} ({:.1}% of normal routes matched on the network)\nfalse escalations on {} fresh normal \
         applications: model {:.2}%, baseline {:.2}%\n",
        t.routes,
        100.0 * t.matched,
        t.normal,
        100.0 * t.model_false_escalation,
        100.0 * t.baseline_false_escalation
    );
    let _ = writeln!(
        s,
        "| anomaly | n | AUC model | AUC baseline | recall@1%FPR model | recall@1%FPR baseline | escalated model | escalated baseline |"
    );
    let _ = writeln!(s, "|---|---:|---:|---:|---:|---:|---:|---:|");
    for row in &t.rows {
        let _ = writeln!(
            s,
            "| {} | {} | {:.4} | {:.4} | {:.3} | {:.3} | {:.3} | {:.3} |",
            row.kind,
            row.n,
            row.model.roc_auc,
            row.baseline.roc_auc,
            row.model.recall_at_1pct_fpr,
            row.baseline.recall_at_1pct_fpr,
            row.model.escalated,
            row.baseline.escalated
        );
    }
}
