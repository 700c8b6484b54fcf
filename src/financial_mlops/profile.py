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


def quantile_bins(values: np.ndarray, bins: int = 10) -> dict:
    """Quantile bin edges of ``values`` (deduplicated, open-ended) and each bin's share of rows.

    A sample of up to 5000 sorted values is kept so that a KS statistic can be computed later.
    """
    values = np.asarray(values, dtype=float)
    values = values[np.isfinite(values)]
    inner = np.unique(np.quantile(values, np.linspace(0, 1, bins + 1)[1:-1])) if values.size else []
    edges = np.concatenate([[-np.inf], inner, [np.inf]])
    counts = np.histogram(values, bins=edges)[0]
    sample = np.sort(np.random.default_rng(0).choice(values, min(values.size, 5000), replace=False))
    return {
        "edges": [float(e) for e in edges[1:-1]],
        "proportions": (counts / max(values.size, 1)).tolist(),
        "sample": sample.tolist(),
        "n": int(values.size),
    }


def build_reference_profile(features: pd.DataFrame, scores: np.ndarray, bins: int = 10,
                            symbols: pd.Series | None = None) -> dict:
    """The profile of a model's reference data (its training rows) and of its scores on them;
    ``symbols``: the training rows' symbol column, recorded as row counts per symbol."""
    profile = {
        "bins": bins,
        "features": {name: quantile_bins(features[name].to_numpy(), bins) for name in features},
        "score": quantile_bins(scores, bins),
    }
    if symbols is not None:
        counts = pd.Series(symbols).astype(str).value_counts()
        profile["symbols"] = {str(name): int(n) for name, n in counts.sort_index().items()}
    return profile


def known_symbols(profile: dict) -> set[str] | None:
    """The symbols a profile's model was trained on; None for a profile that predates them."""
    symbols = profile.get("symbols")
    return None if symbols is None else set(symbols)
