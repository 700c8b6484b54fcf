"""PSI, KS and verdicts on numpy data against profiles built by ``profile.quantile_bins``."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from financial_mlops.drift_stats import bin_shares, compare, overall_verdict, psi, verdict
from financial_mlops.profile import (
    build_reference_profile,
    known_symbols,
    quantile_bins,
    segment_reference,
)

THRESHOLDS = {"psi": {"warn": 0.1, "alert": 0.25}, "ks": {"warn": 0.1, "alert": 0.2}}
rng = np.random.default_rng(7)
REFERENCE = quantile_bins(rng.standard_normal(50_000))


def test_bins_are_counted_like_the_reference_profile():
    values = np.concatenate([rng.standard_normal(3000), REFERENCE["edges"]])  # ties on edges
    profile = quantile_bins(values)
    assert np.allclose(bin_shares(values, profile["edges"]), profile["proportions"])


def test_psi_matches_its_definition_and_floors_empty_bins():
    reference, recent = np.array([0.5, 0.5]), np.array([0.8, 0.2])
    expected = 0.3 * np.log(0.8 / 0.5) + (-0.3) * np.log(0.2 / 0.5)
    assert psi(reference, recent) == pytest.approx(expected)
    assert np.isfinite(psi(reference, np.array([1.0, 0.0])))


def test_the_same_distribution_does_not_drift():
    psi_value, ks_value = compare(REFERENCE, rng.standard_normal(20_000))
    assert psi_value < 0.01
    assert ks_value < 0.04
    assert verdict(psi_value, ks_value, THRESHOLDS) == "ok"


@pytest.mark.parametrize(("shift", "scale", "expected"), [
    (0.35, 1.0, "warn"),   # a third of a standard deviation
    (1.0, 1.0, "alert"),
    (0.0, 3.0, "alert"),   # volatility x3
])
def test_shifted_or_wider_distributions_drift(shift, scale, expected):
    psi_value, ks_value = compare(REFERENCE, shift + scale * rng.standard_normal(20_000))
    assert verdict(psi_value, ks_value, THRESHOLDS) == expected


def test_ks_is_the_largest_gap_between_the_distribution_functions():
    reference = {"edges": [], "proportions": [1.0], "sample": [1.0, 2.0, 3.0, 4.0]}
    # Below 2.5: reference 2/4, recent 0/2 -> gap 0.5.
    assert compare(reference, np.array([3.0, 4.0]))[1] == pytest.approx(0.5)


def test_non_finite_recent_values_are_left_out():
    values = rng.standard_normal(10_000)
    with_gaps = np.concatenate([values, [np.nan, np.inf, -np.inf]])
    assert compare(REFERENCE, with_gaps) == pytest.approx(compare(REFERENCE, values))


@pytest.mark.parametrize(("psi_value", "ks_value", "expected"), [
    (0.0999, 0.0999, "ok"), (0.1, 0.0, "warn"), (0.0, 0.1, "warn"),
    (0.25, 0.0, "alert"), (0.0, 0.2, "alert"), (0.2, 0.19, "warn"),
])
def test_verdict_thresholds_are_inclusive(psi_value, ks_value, expected):
    assert verdict(psi_value, ks_value, THRESHOLDS) == expected


def test_overall_verdict_needs_enough_alerting_features_or_an_alerting_score():
    one = {"f_a": "alert", "f_b": "ok", "f_c": "ok"}
    two = {"f_a": "alert", "f_b": "alert", "f_c": "warn"}
    assert overall_verdict(one, "ok", 2)[0] == "warn"
    verdict_, reason = overall_verdict(two, "ok", 2)
    assert verdict_ == "alert"
    assert "f_a, f_b" in reason
    assert overall_verdict(one, "alert", 2)[0] == "alert"
    assert overall_verdict({"f_a": "ok"}, "warn", 2)[0] == "warn"
    assert overall_verdict({"f_a": "ok", "f_b": "ok"}, "ok", 2) == (
        "ok", "no feature drifts; score distribution ok")


def test_the_profile_records_training_symbols_and_segment_references():
    n = 2600
    features = pd.DataFrame({"f_x": rng.standard_normal(n)})
    segments = pd.DataFrame({"symbol": ["SPY"] * 1500 + ["BRK.B"] * 1000 + ["btcusdt"] * 100,
                             "exchange": "NYSE ARCA"})
    profile = build_reference_profile(features, rng.random(n), segments=segments)
    assert profile["symbols"] == {"BRK.B": 1000, "SPY": 1500, "btcusdt": 100}
    assert known_symbols(profile) == {"BRK.B", "SPY", "btcusdt"}
    spy = segment_reference(profile, "symbol", "SPY")
    assert spy["features"]["f_x"]["n"] == 1500 and len(spy["features"]["f_x"]["sample"]) == 1000
    assert segment_reference(profile, "symbol", "btcusdt") is None  # too few training rows
    assert segment_reference(profile, "exchange", "NYSE ARCA")["score"]["n"] == n
    # A profile from before symbols and segments: nothing known, nothing compared per segment.
    old = build_reference_profile(features, rng.random(n))
    assert known_symbols(old) is None and segment_reference(old, "symbol", "SPY") is None
