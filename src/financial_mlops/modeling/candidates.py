"""The candidate model kinds, all fitted alike: ``fit_candidate(kind, params, splits, seed)``.

Supervised kinds learn from the labelled train slice; IsolationForest ignores labels; the rule
baseline learns nothing. Every fitted candidate gives a continuous anomaly score through
``anomaly_scores`` (higher = more anomalous), so they are compared and served alike.

``report(step, validation_pr_auc)`` lets optuna prune an unpromising trial while it trains: it is
called per boosting round (XGBoost) or per block of iterations (histogram gradient boosting), and
raises ``optuna.TrialPruned`` to stop it.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from fnmatch import fnmatchcase
from typing import Any

import numpy as np
import pandas as pd
import xgboost as xgb
from sklearn.base import BaseEstimator
from sklearn.ensemble import HistGradientBoostingClassifier, IsolationForest
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from financial_mlops.modeling.metrics import pr_auc
from financial_mlops.modeling.scoring import anomaly_scores

Reporter = Callable[[int, float], None]
HGB_STEP = 25  # iterations between two pruning reports of histogram gradient boosting


@dataclass(frozen=True)
class Slice:
    X: pd.DataFrame
    y: np.ndarray


@dataclass(frozen=True)
class Splits:
    """The time-ordered slices: train (oldest), validation, test (most recent)."""

    train: Slice
    validation: Slice
    test: Slice


class MaxAbsZScore(BaseEstimator):
    """The classical surveillance rule: a trade is as anomalous as its largest |z-score|.

    ``columns``: names or shell-style patterns (``f_abs_price_z_*``) of the z-score features;
    ``fit`` resolves them against the feature columns. Follows sklearn's outlier convention
    (``score_samples``: lower = more abnormal).
    """

    def __init__(self, columns: list[str] | None = None) -> None:
        self.columns = columns

    def fit(self, X: pd.DataFrame, y: Any = None) -> MaxAbsZScore:
        self.columns_ = matching_columns(X.columns, self.columns)
        if not self.columns_:
            raise ValueError(f"no feature column matches {self.columns}")
        return self

    def score_samples(self, X: pd.DataFrame) -> np.ndarray:
        return -np.abs(X[self.columns_].to_numpy(dtype=float)).max(axis=1)


def matching_columns(columns, patterns: list[str]) -> list[str]:
    """The columns matching any of the shell-style ``patterns``, in column order."""
    return [c for c in columns if any(fnmatchcase(c, p) for p in patterns)]


class _ReportValidationPrAuc(xgb.callback.TrainingCallback):
    def __init__(self, report: Reporter) -> None:
        super().__init__()
        self._report = report

    def after_iteration(self, model, epoch: int, evals_log: dict) -> bool:
        self._report(epoch, evals_log["validation_0"]["aucpr"][-1])
        return False


def _fit_xgboost(params: dict, splits: Splits, seed: int, report: Reporter | None):
    """Early stopping on validation PR-AUC (XGBoost's ``aucpr``); ``device: cuda`` trains on GPU."""
    model = xgb.XGBClassifier(
        **params, eval_metric="aucpr", random_state=seed,
        callbacks=[_ReportValidationPrAuc(report)] if report else None,
    )
    model.fit(splits.train.X, splits.train.y,
              eval_set=[(splits.validation.X, splits.validation.y)], verbose=False)
    return model


def _fit_hist_gradient_boosting(params: dict, splits: Splits, seed: int,
                                report: Reporter | None):
    """Grown ``HGB_STEP`` iterations at a time (warm start), the same way with or without a
    reporter, so a refit of the best trial gives the same model."""
    params = dict(params)
    total = int(params.pop("max_iter"))
    model = HistGradientBoostingClassifier(**params, early_stopping=False, warm_start=True,
                                           random_state=seed)
    for iterations in range(HGB_STEP, total + HGB_STEP, HGB_STEP):
        model.set_params(max_iter=min(iterations, total))
        model.fit(splits.train.X, splits.train.y)
        if report:
            scores = anomaly_scores(model, splits.validation.X)
            report(iterations, pr_auc(splits.validation.y, scores))
    return model


def _fit_logistic_regression(params: dict, splits: Splits, seed: int, report: Reporter | None):
    model = make_pipeline(StandardScaler(), LogisticRegression(**params, random_state=seed))
    return model.fit(splits.train.X, splits.train.y)


def _fit_isolation_forest(params: dict, splits: Splits, seed: int, report: Reporter | None):
    return IsolationForest(**params, random_state=seed).fit(splits.train.X)


def _fit_rule_baseline(params: dict, splits: Splits, seed: int, report: Reporter | None):
    return MaxAbsZScore(**params).fit(splits.train.X)


FITTERS: dict[str, Callable[..., Any]] = {
    "xgboost": _fit_xgboost,
    "hist_gradient_boosting": _fit_hist_gradient_boosting,
    "logistic_regression": _fit_logistic_regression,
    "isolation_forest": _fit_isolation_forest,
    "rule_baseline": _fit_rule_baseline,
}
BASELINE_KIND = "rule_baseline"


def fit_candidate(kind: str, params: dict, splits: Splits, seed: int,
                  report: Reporter | None = None) -> Any:
    """Fit one candidate of ``kind`` (a key of ``FITTERS``) with its hyper-parameters."""
    return FITTERS[kind](params, splits, seed, report)
