"""Evaluation of anomaly scores with sklearn: PR-AUC first (rare positives), then F1, precision and
recall at a threshold chosen on validation, ROC-AUC, and PR-AUC stability over time batches.

PR-AUC is ``average_precision_score`` everywhere: the trapezoidal area under the PR curve is
optimistic on imbalanced data.
"""

from __future__ import annotations

import numpy as np
from sklearn.metrics import (
    average_precision_score,
    f1_score,
    precision_recall_curve,
    precision_score,
    recall_score,
    roc_auc_score,
)


def pr_auc(y: np.ndarray, scores: np.ndarray) -> float:
    return float(average_precision_score(y, scores))


def best_f1_threshold(y: np.ndarray, scores: np.ndarray) -> float:
    """The score threshold with the highest F1 (flag = score >= threshold); on validation only."""
    precision, recall, thresholds = precision_recall_curve(y, scores)
    # The last precision/recall pair has no threshold (recall 0 by convention).
    f1 = 2 * precision[:-1] * recall[:-1] / np.maximum(precision[:-1] + recall[:-1], 1e-12)
    return float(thresholds[int(np.argmax(f1))])


def flag_metrics(y: np.ndarray, flags: np.ndarray) -> dict[str, float]:
    """F1, precision and recall of 0/1 ``flags`` (a model's own or a threshold's)."""
    return {
        "f1": float(f1_score(y, flags, zero_division=0)),
        "precision": float(precision_score(y, flags, zero_division=0)),
        "recall": float(recall_score(y, flags, zero_division=0)),
    }


def classification_metrics(y: np.ndarray, scores: np.ndarray, threshold: float) -> dict[str, float]:
    """PR-AUC, ROC-AUC, and F1 / precision / recall of the flag ``score >= threshold``."""
    flags = (scores >= threshold).astype(int)
    return {"pr_auc": pr_auc(y, scores), "roc_auc": float(roc_auc_score(y, scores)),
            **flag_metrics(y, flags)}


def batch_pr_auc_spread(y: np.ndarray, scores: np.ndarray, batches: int) -> float:
    """Standard deviation of PR-AUC over ``batches`` consecutive (time-ordered) chunks.

    A model that is good on average but erratic from one period to the next is a risky champion.
    Chunks without an anomaly have no PR-AUC and are skipped; NaN if fewer than two remain.
    """
    values = [pr_auc(y_chunk, s_chunk)
              for y_chunk, s_chunk in zip(np.array_split(y, batches),
                                          np.array_split(scores, batches), strict=True)
              if y_chunk.any()]
    return float(np.std(values)) if len(values) >= 2 else float("nan")
