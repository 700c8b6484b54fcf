"""Drift statistics of recent values against a reference profile (see ``profile.py``).

Both are effect sizes, not tests: at 100k rows a p-value flags shifts far too small to matter.
- PSI (population stability index) on the reference's quantile bins: how much the share of rows
  in each reference bin moved. Rule of thumb: < 0.1 stable, 0.1-0.25 moderate, > 0.25 major.
- KS: the largest gap between the reference and recent empirical distribution functions.
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np
from scipy.stats import ks_2samp

# An empty bin on either side would make PSI infinite; shares are floored at this instead.
SHARE_FLOOR = 1e-4
VERDICTS = ("ok", "warn", "alert")


def bin_shares(values: np.ndarray, edges: list[float]) -> np.ndarray:
    """Share of ``values`` in each bin between the inner ``edges`` (bins are ``[a, b)``, the
    first and last open-ended), counted like the reference profile's ``np.histogram``."""
    index = np.searchsorted(np.asarray(edges, dtype=float), values, side="right")
    counts = np.bincount(index, minlength=len(edges) + 1)
    return counts / max(values.size, 1)


def psi(reference_shares: np.ndarray, recent_shares: np.ndarray) -> float:
    reference = np.clip(np.asarray(reference_shares, dtype=float), SHARE_FLOOR, None)
    recent = np.clip(np.asarray(recent_shares, dtype=float), SHARE_FLOOR, None)
    return float(np.sum((recent - reference) * np.log(recent / reference)))


def compare(reference: Mapping, values: np.ndarray) -> tuple[float, float]:
    """(PSI, KS) of ``values`` against one profile entry (``edges``, ``proportions``,
    ``sample``). Non-finite values are left out, as they were from the reference."""
    values = np.asarray(values, dtype=float)
    values = values[np.isfinite(values)]
    if values.size == 0 or not reference["sample"]:
        return float("nan"), float("nan")
    shares = bin_shares(values, reference["edges"])
    ks = ks_2samp(reference["sample"], values, method="asymp").statistic
    return psi(reference["proportions"], shares), float(ks)


def verdict(psi_value: float, ks_value: float, thresholds: Mapping) -> str:
    """``alert`` when PSI or KS reaches its alert threshold, ``warn`` at its warn threshold,
    else ``ok``. ``thresholds`` = ``{psi: {warn, alert}, ks: {warn, alert}}``."""
    for level in ("alert", "warn"):
        if psi_value >= thresholds["psi"][level] or ks_value >= thresholds["ks"][level]:
            return level
    return "ok"


def overall_verdict(
    feature_verdicts: Mapping[str, str], score_verdict: str, min_alerting_features: int
) -> tuple[str, str]:
    """The check's verdict and why. One drifting feature is often noise or a harmless shift,
    so an alert needs ``min_alerting_features`` alerting features, or the champion's score
    distribution itself alerting (it drives how many trades get flagged)."""
    alerting = sorted(name for name, v in feature_verdicts.items() if v == "alert")
    warning = sorted(name for name, v in feature_verdicts.items() if v == "warn")
    features = f"{len(alerting)} feature(s) alert (alert needs {min_alerting_features})"
    if alerting:
        features += ": " + ", ".join(alerting)
    score = f"score distribution {score_verdict}"
    if len(alerting) >= min_alerting_features or score_verdict == "alert":
        return "alert", f"{features}; {score}"
    if alerting or warning or score_verdict == "warn":
        return "warn", f"{features}, {len(warning)} warn; {score}"
    return "ok", f"no feature drifts; {score}"
