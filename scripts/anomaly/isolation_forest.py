#!/usr/bin/env python3
"""IsolationForest on oscar's anomaly features, against oscar's autoencoder, on the same data.

Fits scikit-learn's IsolationForest on the training features (`oscar eval-model
--dump-train`), scores the evaluation set (`oscar eval-model --dump`) and prints, per set of
routes (synthetic, and the extract kept out of training) and per anomaly kind:

* ROC AUC of both detectors (ties count half, as `oscar eval-model` computes it);
* recall of both at the autoencoder's calibrated false-escalation rate on that set's
  normals: the autoencoder at its shipped threshold, IsolationForest at the threshold that
  escalates the same share of the same normals.

Missing features (empty cells) are filled with the training mean, as the autoencoder does;
the `route_on_network` indicator tells both detectors which route features are unknown.

    python3 -m venv /tmp/oscar-if && /tmp/oscar-if/bin/pip install -r scripts/anomaly/requirements.txt
    cargo run -- eval-model --dump /tmp/eval.csv --dump-train /tmp/train.csv
    /tmp/oscar-if/bin/python scripts/anomaly/isolation_forest.py --train /tmp/train.csv --eval /tmp/eval.csv
"""

import argparse
import json
import sys

import numpy as np
import pandas as pd
from sklearn.ensemble import IsolationForest

META = ["label", "kind", "routes", "model_score", "baseline_score"]


def auc(pos, neg):
    """P(anomaly outscores a normal), ties half."""
    neg = np.sort(neg)
    below = np.searchsorted(neg, pos, side="left")
    not_above = np.searchsorted(neg, pos, side="right")
    return float((below + 0.5 * (not_above - below)).sum() / (len(pos) * len(neg)))


def quantile(values, q):
    """Nearest-rank quantile, as oscar's `train::quantile`."""
    v = np.sort(values)
    rank = min(max(int(np.ceil(q * len(v))), 1), len(v))
    return v[rank - 1]


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--train", required=True, help="CSV from `oscar eval-model --dump-train`")
    ap.add_argument("--eval", required=True, help="CSV from `oscar eval-model --dump`")
    ap.add_argument("--model-json", default="models/anomaly.json", help="the autoencoder's description")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--trees", type=int, default=300)
    args = ap.parse_args()

    train = pd.read_csv(args.train)
    ev = pd.read_csv(args.eval)
    features = [c for c in train.columns if c not in META]
    if features != [c for c in ev.columns if c not in META]:
        sys.exit("the training and evaluation dumps list different features")
    threshold = json.load(open(args.model_json))["threshold"]

    fill = train[features].mean()
    forest = IsolationForest(n_estimators=args.trees, random_state=args.seed)
    forest.fit(train[features].fillna(fill).to_numpy())
    ev["if_score"] = -forest.score_samples(ev[features].fillna(fill).to_numpy())

    print(f"IsolationForest ({args.trees} trees, seed {args.seed}) fitted on {len(train)} training rows; "
          f"autoencoder threshold {threshold:.4f}")
    for routes, group in ev.groupby("routes", sort=False):
        normal = group[group.label == 0]
        rate = float((normal.model_score >= threshold).mean())
        if_threshold = quantile(normal.if_score.to_numpy(), 1.0 - rate)
        print(f"\nroutes: {routes}; {len(normal)} normals, autoencoder false escalations {100 * rate:.2f}% "
              f"(IsolationForest held to the same rate)\n")
        print("| anomaly | n | AUC autoencoder | AUC IsolationForest | difference | recall autoencoder | recall IsolationForest |")
        print("|---|---:|---:|---:|---:|---:|---:|")
        kinds = [k for k in group.kind.unique() if k != "normal"]
        for kind in kinds + ["all"]:
            pos = group[group.label == 1] if kind == "all" else group[group.kind == kind]
            a_m = auc(pos.model_score.to_numpy(), normal.model_score.to_numpy())
            a_i = auc(pos.if_score.to_numpy(), normal.if_score.to_numpy())
            r_m = float((pos.model_score >= threshold).mean())
            r_i = float((pos.if_score > if_threshold).mean())
            name = f"**{kind}**" if kind == "all" else kind
            print(f"| {name} | {len(pos)} | {a_m:.4f} | {a_i:.4f} | {a_m - a_i:+.4f} | {r_m:.3f} | {r_i:.3f} |")


if __name__ == "__main__":
    main()
