"""Registered versions that meet the model contract, for tests downstream of the tournament.

Deployment, inference and drift tests need real registered versions of ``anomaly_detector``
without running a tournament. ``register_version`` fits a one-feature logistic regression on
``synthetic_gold`` rows, wraps it in a ``PythonModel`` returning ``score`` and ``is_anomaly``,
and logs it as the tournament would (contract in ``/tmp/contracts.md``): a run with the
``candidate`` param, every required metric and tag, ``reference_profile.json``, the model
``model`` with its signature (inputs: every ``f_`` column), registered as a new version.

    from tests.pipelines.deployment.contract_model import register_version, synthetic_gold

    gold, labels = synthetic_gold()
    v1 = register_version("anomaly_detector", gold, labels, feature="f_medium")

Model quality is set by the feature it sees: ``f_strong`` (PR-AUC ~0.9), ``f_medium`` (~0.5),
``f_noise`` (~ the anomaly rate). The MLflow tracking/registry URIs must point at a test
registry first (fixture ``registry`` in this folder's conftest). The class is pickled by value,
so a version loads wherever sklearn is installed, tests package or not (Spark workers too).
"""

from __future__ import annotations

import json
import sys
from collections.abc import Iterable, Mapping

import cloudpickle
import mlflow
import numpy as np
import pandas as pd
from mlflow.entities.model_registry import ModelVersion
from mlflow.models import infer_signature
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import average_precision_score, precision_recall_curve

from financial_mlops.profile import build_reference_profile

cloudpickle.register_pickle_by_value(sys.modules[__name__])

FEATURES = ("f_strong", "f_medium", "f_noise")
SEPARATION = {"f_strong": 4.0, "f_medium": 2.0, "f_noise": 0.0}


def synthetic_gold(n: int = 4000, anomaly_rate: float = 0.03, seed: int = 0,
                   start: str = "2026-01-05 14:30") -> tuple[pd.DataFrame, pd.DataFrame]:
    """Gold rows (the gold contract, one trade a second) and their labels. An anomaly shifts
    each feature by its ``SEPARATION`` in standard deviations."""
    rng = np.random.default_rng(seed)
    y = (rng.random(n) < anomaly_rate).astype("int32")
    trade_id = [f"S{seed}-{i:06d}" for i in range(n)]
    gold = pd.DataFrame({
        "trade_id": trade_id,
        "symbol": rng.choice(["AAPL", "MSFT"], n),
        "exchange": "XNAS",
        "event_time": pd.date_range(start, periods=n, freq="s"),
        "price": 100 + rng.normal(size=n),
        "volume": 100 + 10 * rng.random(n),
        **{f: SEPARATION[f] * y + rng.normal(size=n) for f in FEATURES},
    })
    labels = pd.DataFrame({"trade_id": trade_id, "is_anomaly": y,
                           "anomaly_type": np.where(y == 1, "planted", None)})
    return gold, labels


class ContractModel(mlflow.pyfunc.PythonModel):
    """A fitted one-feature classifier; ``broken`` models return NaN scores."""

    def __init__(self, estimator, feature: str, threshold: float, broken: bool = False) -> None:
        self.estimator, self.feature = estimator, feature
        self.threshold, self.broken = threshold, broken

    def predict(self, context, model_input: pd.DataFrame, params=None) -> pd.DataFrame:
        score = self.estimator.predict_proba(model_input[[self.feature]])[:, 1]
        if self.broken:
            score = np.full(len(model_input), np.nan)
        return pd.DataFrame({"score": score, "is_anomaly": (score >= self.threshold).astype(int)})


def _best_f1_threshold(y: np.ndarray, score: np.ndarray) -> float:
    precision, recall, thresholds = precision_recall_curve(y, score)
    f1 = 2 * precision * recall / np.maximum(precision + recall, 1e-12)
    return float(thresholds[np.argmax(f1[:-1])])


def register_version(name: str, gold: pd.DataFrame, labels: pd.DataFrame, *,
                     feature: str = "f_strong", broken: bool = False,
                     metrics: Mapping[str, float] | None = None,
                     omit: Iterable[str] = ()) -> ModelVersion:
    """Fit, log and register one contract version of ``name`` (a three-level name works too).

    ``metrics`` overrides logged metrics (e.g. ``{"train_val_gap": 0.4}`` for an unstable
    model); ``omit`` leaves run items out, as ``"metric test_f1"``, ``"tag git_sha"``,
    ``"param candidate"`` or ``"artifact reference_profile.json"``.
    """
    omit = set(omit)
    data = gold.merge(labels[["trade_id", "is_anomaly"]], on="trade_id")
    y = data["is_anomaly"].to_numpy()
    estimator = LogisticRegression().fit(data[[feature]], y)
    score = estimator.predict_proba(data[[feature]])[:, 1]
    model = ContractModel(estimator, feature, _best_f1_threshold(y, score), broken)
    features = [c for c in gold.columns if c.startswith("f_")]
    pr_auc = float(average_precision_score(y, score))
    logged = {
        "val_pr_auc": pr_auc, "test_pr_auc": pr_auc, "test_f1": 0.5, "test_precision": 0.5,
        "test_recall": 0.5, "test_roc_auc": 0.9, "train_val_gap": 0.01,
        "batch_pr_auc_spread": 0.02, "fit_seconds": 0.1, "scoring_rows_per_second": 1e5,
        **(metrics or {}),
    }
    tags = {
        "git_sha": "0" * 40, "feature_list": json.dumps(features), "threshold": model.threshold,
        "data_window": json.dumps([str(gold.event_time.min()), str(gold.event_time.max())]),
        "delta_version.gold_trade_features": 0, "delta_version.anomaly_labels": 0,
        "candidate": f"logistic_regression_{feature}",
    }
    with mlflow.start_run(run_name=f"candidate-{feature}"):
        if "param candidate" not in omit:
            mlflow.log_params({"candidate": tags["candidate"], "C": 1.0})
        mlflow.log_metrics({k: v for k, v in logged.items() if f"metric {k}" not in omit})
        mlflow.set_tags({k: v for k, v in tags.items() if f"tag {k}" not in omit})
        if "artifact reference_profile.json" not in omit:
            mlflow.log_dict(build_reference_profile(gold[features], score,
                                                    segments=gold.filter(["symbol", "exchange"])),
                            "reference_profile.json")
        example = gold[features].head(5)
        info = mlflow.pyfunc.log_model(
            name="model", python_model=model,
            signature=infer_signature(example, model.predict(None, example)),
            pip_requirements=["mlflow", "scikit-learn", "pandas", "numpy"])
    return mlflow.register_model(info.model_uri, name)
