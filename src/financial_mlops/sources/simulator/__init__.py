"""Built-in market simulator: a seeded, labelled synthetic equities market (pure numpy/pandas)."""

from .anomalies import ANOMALY_KINDS
from .batch import simulate_batch
from .universe import EXCHANGES, SYMBOLS

__all__ = ["ANOMALY_KINDS", "EXCHANGES", "SYMBOLS", "simulate_batch"]
