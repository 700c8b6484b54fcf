"""Checks of the caller's arguments: every mistake is a one-line UserError naming it."""

import math
from collections.abc import Mapping
from numbers import Integral, Real

import numpy as np

from financial_mlops.errors import UserError

from .anomalies import ANOMALY_KINDS

MAX_ANOMALY_RATE = 0.2
_REGIME_KEYS = ("volatility_multiplier", "volume_multiplier", "anomaly_mix")


def number(value: object, what: str) -> float:
    if isinstance(value, bool) or not isinstance(value, Real) or not math.isfinite(value):
        raise UserError(f"{what} must be a finite number, got {value!r}")
    return float(value)


def whole_number(value: object, what: str, *, minimum: int) -> int:
    if isinstance(value, bool) or not isinstance(value, Integral) or value < minimum:
        raise UserError(f"{what} must be a whole number >= {minimum}, got {value!r}")
    return int(value)


def anomaly_rate(value: object) -> float:
    rate = number(value, "anomaly_rate")
    if not 0 <= rate <= MAX_ANOMALY_RATE:
        raise UserError(f"anomaly_rate must be within [0, {MAX_ANOMALY_RATE}], got {rate}")
    return rate


def regime(value: object) -> tuple[float, float, np.ndarray]:
    """(volatility multiplier, volume multiplier, anomaly weights in ANOMALY_KINDS order)."""
    value = {} if value is None else value
    if not isinstance(value, Mapping):
        raise UserError(f"regime must be a mapping with keys {list(_REGIME_KEYS)}")
    unknown = sorted(set(value) - set(_REGIME_KEYS))
    if unknown:
        raise UserError(f"unknown regime key(s) {unknown}; expected some of {list(_REGIME_KEYS)}")
    multipliers = []
    for key in _REGIME_KEYS[:2]:
        multiplier = number(value.get(key, 1.0), f"regime {key}")
        if multiplier <= 0:
            raise UserError(f"regime {key} must be positive, got {multiplier}")
        multipliers.append(multiplier)
    return multipliers[0], multipliers[1], _anomaly_mix(value.get("anomaly_mix"))


def _anomaly_mix(mix: object) -> np.ndarray:
    if mix is None:
        return np.ones(len(ANOMALY_KINDS))
    if not isinstance(mix, Mapping):
        raise UserError(f"regime anomaly_mix must map kinds {list(ANOMALY_KINDS)} to weights")
    unknown = sorted(set(mix) - set(ANOMALY_KINDS))
    if unknown:
        kinds = list(ANOMALY_KINDS)
        raise UserError(f"unknown anomaly kind(s) {unknown}; expected some of {kinds}")
    weights = np.array([number(mix.get(k, 0.0), f"anomaly_mix[{k}]") for k in ANOMALY_KINDS])
    if (weights < 0).any() or weights.sum() <= 0:
        raise UserError("regime anomaly_mix weights must be non-negative with a positive sum")
    return weights
