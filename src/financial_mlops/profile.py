"""A model's reference profile: what its training data and scores looked like, for drift checks.

Per feature, the edges of its reference quantile bins (deciles by default) and the share of
reference rows in each bin; the same for the model's scores; and the symbols it was trained on
with their row counts, so a drift check can name the symbols it has never seen (profiles of
models registered before that have no ``symbols`` key: the check then says it cannot tell).
Stored with every registered model as ``reference_profile.json`` and compared with recent data
by PSI and KS.
"""

from __future__ import annotations

import numpy as np
import pandas as pd


def quantile_bins(values: np.ndarray, bins: int = 10, sample: int = 5000) -> dict:
    """Quantile bin edges of ``values`` (deduplicated, open-ended) and each bin's share of rows.

    A sample of up to ``sample`` sorted values is kept so that a KS statistic can be computed
    later.
    """
    values = np.asarray(values, dtype=float)
    values = values[np.isfinite(values)]
    inner = np.unique(np.quantile(values, np.linspace(0, 1, bins + 1)[1:-1])) if values.size else []
    edges = np.concatenate([[-np.inf], inner, [np.inf]])
    counts = np.histogram(values, bins=edges)[0]
    kept = np.sort(np.random.default_rng(0).choice(values, min(values.size, sample), replace=False))
    return {
        "edges": [float(e) for e in edges[1:-1]],
        "proportions": (counts / max(values.size, 1)).tolist(),
        "sample": kept.tolist(),
        "n": int(values.size),
    }


# Per-segment references: the largest segments with enough rows, each with a smaller KS sample,
# so that a profile of 30 features and 50 symbols stays a few MB.
SEGMENT_COLUMNS = ("symbol", "exchange")  # gold columns a drift check can segment by
SEGMENT_MIN_ROWS = 1000
SEGMENT_LIMIT = 50
SEGMENT_SAMPLE = 1000


def build_reference_profile(features: pd.DataFrame, scores: np.ndarray, bins: int = 10,
                            segments: pd.DataFrame | None = None) -> dict:
    """The profile of a model's reference data (its training rows) and of its scores on them.

    ``segments``: the training rows' segment columns (``symbol``, ``exchange``). Their row counts
    per value are recorded (``symbols`` for the symbol column: drift names the symbols a model
    never trained on), and for each of the ``SEGMENT_LIMIT`` largest values with at least
    ``SEGMENT_MIN_ROWS`` rows a profile of its own rows: a drift check compares a segment with
    its own reference, since a symbol's volume or price spread differs from the mix of all.
    """
    profile = {
        "bins": bins,
        "features": {name: quantile_bins(features[name].to_numpy(), bins) for name in features},
        "score": quantile_bins(scores, bins),
    }
    if segments is None:
        return profile
    scores = np.asarray(scores, dtype=float)
    profile["segments"] = {}
    for column in segments:
        values = segments[column].astype(str).to_numpy()
        counts = pd.Series(values).value_counts()
        if column == "symbol":
            profile["symbols"] = {str(name): int(n) for name, n in counts.sort_index().items()}
        large = counts[counts >= SEGMENT_MIN_ROWS].head(SEGMENT_LIMIT)
        profile["segments"][column] = {
            str(value): {
                "features": {name: quantile_bins(features[name].to_numpy()[values == value], bins,
                                                 SEGMENT_SAMPLE) for name in features},
                "score": quantile_bins(scores[values == value], bins, SEGMENT_SAMPLE),
            }
            for value in large.index
        }
    return profile


def known_symbols(profile: dict) -> set[str] | None:
    """The symbols a profile's model was trained on; None for a profile that predates them."""
    symbols = profile.get("symbols")
    return None if symbols is None else set(symbols)


def segment_reference(profile: dict, column: str, value: str) -> dict | None:
    """The reference of one segment (``features``, ``score``), None where the profile has none:
    a value too rare in the training rows, or a profile from before segments."""
    return (profile.get("segments") or {}).get(column, {}).get(value)
