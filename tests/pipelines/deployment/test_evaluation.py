"""Slice metrics and the paired, stratified bootstrap of the PR-AUC difference."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from sklearn.metrics import average_precision_score

from financial_mlops.promotion.evaluation import (
    paired_bootstrap_pr_auc_difference,
    slice_metrics,
    weighted_average_precision,
)

BOOT = {"resamples": 300, "confidence": 0.95, "seed": 7}


@pytest.fixture(scope="module")
def labelled(gold_and_labels) -> pd.DataFrame:
    gold, labels = gold_and_labels
    return gold.merge(labels, on="trade_id")


@pytest.mark.parametrize("rows", [5, 300, 4000])
def test_the_vectorised_pr_auc_is_sklearns_with_sample_weights(rows):
    rng = np.random.default_rng(rows)
    truth = (rng.random(rows) < 0.1).astype(float)
    truth[0] = 1
    scores = np.round(rng.random(rows) * 5) / 5 + 0.3 * truth  # many tied scores
    weights = rng.poisson(1.0, (20, rows)).astype(float)
    weights[:, 0] += 1  # every resample keeps a positive
    expected = [average_precision_score(truth, scores, sample_weight=w) for w in weights]
    assert weighted_average_precision(truth, scores, weights) == pytest.approx(expected, abs=1e-12)


def test_identical_models_differ_by_exactly_zero(labelled):
    result = paired_bootstrap_pr_auc_difference(
        labelled.is_anomaly, labelled.f_medium, labelled.f_medium, **BOOT)
    assert result == {"mean": 0.0, "ci_low": 0.0, "ci_high": 0.0}


def test_a_real_gain_has_an_interval_around_it_and_clear_of_zero(labelled):
    observed = (average_precision_score(labelled.is_anomaly, labelled.f_strong)
                - average_precision_score(labelled.is_anomaly, labelled.f_medium))
    gain = paired_bootstrap_pr_auc_difference(
        labelled.is_anomaly, labelled.f_strong, labelled.f_medium, **BOOT)
    loss = paired_bootstrap_pr_auc_difference(
        labelled.is_anomaly, labelled.f_medium, labelled.f_strong, **BOOT)
    assert 0.1 < gain["ci_low"] < observed < gain["ci_high"]
    assert loss["ci_high"] == pytest.approx(-gain["ci_low"])
    assert paired_bootstrap_pr_auc_difference(
        labelled.is_anomaly, labelled.f_strong, labelled.f_medium, **BOOT) == gain


def test_a_noise_level_gain_is_not_clear_of_zero(labelled):
    rng = np.random.default_rng(1)
    jittered = labelled.f_medium + rng.normal(scale=0.05, size=len(labelled))
    result = paired_bootstrap_pr_auc_difference(
        labelled.is_anomaly, jittered, labelled.f_medium, **BOOT)
    assert result["ci_low"] < 0 < result["ci_high"]


def test_slice_metrics_use_the_score_for_pr_auc_and_the_flag_for_the_rest():
    labels = pd.Series([1, 1, 0, 0, 0])
    outputs = pd.DataFrame({"score": [0.9, 0.2, 0.8, 0.1, 0.0], "is_anomaly": [1, 0, 0, 0, 0]})
    metrics = slice_metrics(labels, outputs)
    assert metrics == pytest.approx({"pr_auc": (1 + 2 / 3) / 2, "f1": 2 / 3,
                                     "precision": 1.0, "recall": 0.5})
