"""Scores of a fitted candidate, for every candidate kind, with numpy and pandas only.

Kept apart from ``pyfunc`` (MLflow) and ``candidates`` (XGBoost, scikit-learn's kinds): Spark's
Python workers unpickle a scoring function from here with the estimator, and importing MLflow
there cost each new worker seconds of CPU before its first batch (docs/inference.md).
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd


def anomaly_scores(estimator: Any, X: pd.DataFrame) -> np.ndarray:
    """Continuous anomaly scores, higher = more anomalous, for every candidate kind."""
    if hasattr(estimator, "predict_proba"):
        return estimator.predict_proba(X)[:, 1]
    return -estimator.score_samples(X)


def detections(estimator: Any, features: list[str], threshold: float,
               rows: pd.DataFrame) -> pd.DataFrame:
    """``score`` (double) and ``is_anomaly`` (0/1 int32 at ``threshold``) of each row."""
    scores = anomaly_scores(estimator, rows[features].astype("float64")).astype("float64")
    return pd.DataFrame({"score": scores, "is_anomaly": (scores >= threshold).astype("int32")},
                        index=rows.index)


def float_block(features: list[str], columns: tuple[pd.Series, ...]) -> pd.DataFrame:
    """``columns`` (one Series per feature, as a pandas UDF gets them) as one float64 block,
    which the estimators read without another copy."""
    matrix = np.column_stack([column.to_numpy(dtype="float64") for column in columns])
    return pd.DataFrame(matrix, columns=features, copy=False)
