//! Evaluation: the model against the baseline (per-feature robust z-score max) on fresh
//! normal applications and on every kind of planted anomaly, in the same run.

use std::fmt::Write as _;
use std::path::Path;

use super::anomalies::{ANOMALY_KINDS, anomalous_samples};
use super::features::{FEATURES, Features, features};
use super::generator::{Sample, normal_samples};
use super::model::{AnomalyModel, ModelError};
use super::train::{baseline_score, quantile};

/// Seed of the evaluation normals; anomaly kind `k` uses `EVAL_SEED + 1 + k`. Fixed, and
/// unrelated to any training seed.
pub const EVAL_SEED: u64 = 0xE7A1_5EED_0000_0000;

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

/// The whole evaluation.
#[derive(Debug, Clone, PartialEq)]
pub struct Report {
    /// Number of evaluation normals.
    pub normal: usize,
    /// Share of normals the model escalates (score at or above its threshold).
    pub model_false_escalation: f64,
    /// The same for the baseline.
    pub baseline_false_escalation: f64,
    /// Per kind, then `all`.
    pub rows: Vec<Row>,
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
    let feats: Vec<Features> = samples.iter().map(|s| features(&s.app, &s.refs)).collect();
    let b = &model.config().baseline;
    Ok(Scored {
        kind: kind.into(),
        model: model.raw_scores(&feats)?,
        baseline: feats.iter().map(|f| baseline_score(f, &b.median, &b.mad)).collect(),
        feats,
    })
}

/// Evaluates a model; with `dump`, also writes every evaluation feature vector with its
/// label and both scores as CSV.
pub fn evaluate(model: &AnomalyModel, opts: EvalOptions, dump: Option<&Path>) -> Result<Report, ModelError> {
    let normal = score_set(model, "normal", &normal_samples(EVAL_SEED, opts.normal))?;
    let mut sets = Vec::new();
    for (k, kind) in ANOMALY_KINDS.iter().enumerate() {
        sets.push(score_set(model, kind.name(), &anomalous_samples(*kind, EVAL_SEED + 1 + k as u64, opts.per_kind))?);
    }
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
    let report = Report {
        normal: normal.model.len(),
        model_false_escalation: rate(&normal.model, mt),
        baseline_false_escalation: rate(&normal.baseline, bt),
        rows,
    };
    if let Some(path) = dump {
        write_csv(path, std::iter::once(&normal).chain(&sets))?;
    }
    Ok(report)
}

fn write_csv<'a>(path: &Path, sets: impl Iterator<Item = &'a Scored>) -> Result<(), ModelError> {
    let mut out = String::from("label,kind,model_score,baseline_score");
    for f in &FEATURES {
        out.push(',');
        out.push_str(f.name);
    }
    out.push('\n');
    for s in sets {
        let label = u8::from(s.kind != "normal");
        for ((f, m), b) in s.feats.iter().zip(&s.model).zip(&s.baseline) {
            let _ = write!(out, "{label},{},{m},{b}", s.kind);
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

/// The report as a Markdown table.
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
    let _ = writeln!(
        s,
        "false escalations on {} fresh normal applications: model {:.2}%, baseline {:.2}%\n",
        r.normal,
        100.0 * r.model_false_escalation,
        100.0 * r.baseline_false_escalation
    );
    let _ = writeln!(
        s,
        "| anomaly | n | AUC model | AUC baseline | recall@1%FPR model | recall@1%FPR baseline | escalated model | escalated baseline |"
    );
    let _ = writeln!(s, "|---|---:|---:|---:|---:|---:|---:|---:|");
    for row in &r.rows {
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
    s
}
