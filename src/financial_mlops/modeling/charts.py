"""Tournament charts as matplotlib figures (no pyplot state, so they render headless with Agg)."""

from __future__ import annotations

import numpy as np
import pandas as pd
from matplotlib.figure import Figure
from sklearn.metrics import PrecisionRecallDisplay


def pr_curves_figure(curves: dict[str, tuple[np.ndarray, np.ndarray]]) -> Figure:
    """Precision-recall curves of every candidate, ``curves[name] = (y_test, test_scores)``."""
    figure = Figure(figsize=(7, 5), layout="constrained")
    axes = figure.subplots()
    for name, (y, scores) in curves.items():
        PrecisionRecallDisplay.from_predictions(y, scores, name=name, ax=axes)
    axes.set(title="Test slice: precision-recall of every candidate", xlabel="Recall",
             ylabel="Precision")
    axes.legend(loc="lower left", fontsize="small")
    return figure


def leaderboard_figure(leaderboard: pd.DataFrame) -> Figure:
    """Validation and test PR-AUC per candidate, best first (the winner is ranked on validation)."""
    board = leaderboard.iloc[::-1]
    positions = np.arange(len(board))
    figure = Figure(figsize=(7, 1 + 0.6 * len(board)), layout="constrained")
    axes = figure.subplots()
    axes.barh(positions + 0.2, board["val_pr_auc"], height=0.4, label="validation PR-AUC")
    axes.barh(positions - 0.2, board["test_pr_auc"], height=0.4, label="test PR-AUC")
    axes.set_yticks(positions, board["candidate"])
    axes.set_xlim(0, 1)
    axes.set_xlabel("PR-AUC (average precision)")
    axes.set_title("Tournament leaderboard")
    axes.legend(loc="lower right", fontsize="small")
    return figure
