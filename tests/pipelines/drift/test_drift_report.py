"""The drift report is readable: named features, labelled axes, thresholds, both distributions."""

from __future__ import annotations

from datetime import UTC, datetime

import numpy as np
import pandas as pd

from financial_mlops.pipelines.drift.report import drift_figure, summary_markdown

THRESHOLDS = {"psi": {"warn": 0.1, "alert": 0.25}, "ks": {"warn": 0.1, "alert": 0.2}}
FEATURES = [f"f_feature_number_{i}" for i in range(30)]


def _check() -> dict:
    rng = np.random.default_rng(0)
    psi = np.linspace(0.0, 0.6, 31)
    return {
        "check_id": "abc", "checked_at": datetime(2026, 3, 2, 12, 0, tzinfo=UTC),
        "champion": "anomaly_detector v3", "champion_version": "3", "champion_test_pr_auc": 0.8,
        "window_start": pd.Timestamp("2013-03-02 10:00"),
        "window_end": pd.Timestamp("2013-03-02 11:59"), "window_rows": 50_000,
        "arrived_rows": 2_350_000, "arrival_start": pd.Timestamp("2026-03-02 11:40"),
        "arrival_end": pd.Timestamp("2026-03-02 11:45"),
        "stats": pd.DataFrame({
            "segment": "all", "feature": [*FEATURES, "score"], "psi": psi, "ks": psi / 2,
            "verdict": np.select([psi >= 0.25, psi >= 0.1], ["alert", "warn"], "ok")}),
        "segments": [{"segment": "symbol=SPY", "rows": 45_000, "verdict": "ok", "reason": "calm"},
                     {"segment": "symbol=XYZ", "rows": 5_000, "verdict": "alert",
                      "reason": "5 feature(s) alert"}],
        "unseen": {"recorded": True, "symbols": ["XYZ"], "share": 0.1, "alert": True},
        "verdict": "alert", "reason": "12 feature(s) alert (alert needs 2)",
        "recent_pr_auc": None, "labelled_rows": 0,
        "scores": {"reference": rng.normal(size=5000), "recent": rng.normal(1, 2, 50_000)},
    }


def test_the_figure_names_every_feature_and_labels_its_axes():
    psi_axes, score_axes = drift_figure(_check(), THRESHOLDS).axes
    names = [label.get_text() for label in psi_axes.get_yticklabels()]
    assert names == FEATURES  # sorted by PSI, the worst on top; the score is on the right
    assert min(label.get_fontsize() for label in psi_axes.get_yticklabels()) >= 8
    assert "PSI" in psi_axes.get_xlabel() and psi_axes.get_ylabel() == "feature"
    assert [line.get_xdata()[0] for line in psi_axes.get_lines()] == [0.1, 0.25]
    assert "score" in score_axes.get_xlabel() and score_axes.get_ylabel() == "density"
    legend = [text.get_text() for text in score_axes.get_legend().get_texts()]
    assert legend == ["reference (training rows)", "recent window"]
    assert "PSI 0.600" in score_axes.get_title() and "alert" in score_axes.get_title()


def test_the_summary_states_the_verdict_the_window_and_every_statistic():
    summary = summary_markdown(_check())
    assert summary.startswith("# Drift check 2026-03-02 12:00:00 UTC: ALERT")
    # Which rows: how many of those that arrived, when they arrived, their (older) trade times.
    assert ("50,000 of 2,350,000 rows (sampled) arrived 2026-03-02 11:40:00 → 2026-03-02 "
            "11:45:00 UTC, trade times 2013-03-02 10:00:00 → 2013-03-02 11:59:00 UTC") in summary
    assert "Recent PR-AUC: n/a on the 0 labelled rows of the window" in summary
    assert "Symbols never trained on: 10.0% of the window, 1 symbol(s): `XYZ`" in summary
    segments = summary.split("## Segments")[1]
    assert segments.index("symbol=XYZ | 5,000 | alert") < segments.index("symbol=SPY")
    assert summary.count("\n| f_feature_number_") == 30
    assert "| score | 0.6000 | 0.3000 | alert |" in summary


def test_a_check_with_nothing_new_keeps_the_first_line_form_and_says_why():
    check = {**_check(), "verdict": "nothing_new", "reason": "nothing new arrived since X",
             "scores": None, "segments": [], "window_rows": 0, "arrived_rows": 0}
    summary = summary_markdown(check)
    assert summary.startswith("# Drift check 2026-03-02 12:00:00 UTC: NOTHING NEW\n")
    assert "- Why: nothing new arrived since X" in summary and "| feature |" not in summary
    figure = drift_figure(check, THRESHOLDS)
    assert "NOTHING NEW" in figure.texts[0].get_text()
