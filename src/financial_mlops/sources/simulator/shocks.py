"""Heavy-tailed returns with volatility clustering, shared by both simulated markets.

Real trade-to-trade returns have fat tails and calm and wild stretches; a market without them
teaches a model that any 5-sigma move is an anomaly. Each symbol's volatility follows a log-AR(1)
in its own trade time (a stochastic-volatility model: vectorised, unlike GARCH's recursion).
"""

import numpy as np
from scipy.signal import lfilter


def clustered_shocks(counts: np.ndarray, rng: np.random.Generator, *,
                     dof: float | np.ndarray = 4.0, persistence: float | np.ndarray = 0.995,
                     vol_of_vol: float | np.ndarray = 0.8) -> tuple[np.ndarray, np.ndarray]:
    """(shocks, scales) for trades grouped by symbol (``counts[s]`` trades of symbol s, in
    order): unit-variance Student-t shocks of ``dof`` degrees of freedom, and each trade's
    volatility multiplier, with mean square 1 so the symbol's overall volatility is kept.
    ``persistence`` per trade sets how long a calm or wild stretch lasts; ``vol_of_vol`` the sd
    of the log multiplier. Each is one value for all symbols or one per symbol."""
    n = int(counts.sum())
    dof, persistence, vol_of_vol = (np.broadcast_to(np.asarray(v, float), counts.shape)
                                    for v in (dof, persistence, vol_of_vol))
    per_trade = np.repeat(np.arange(len(counts)), counts)
    shocks = rng.standard_t(dof[per_trade]) / np.sqrt(dof / (dof - 2))[per_trade]
    innovations = (rng.standard_normal(n) * (vol_of_vol * np.sqrt(1 - persistence**2))[per_trade])
    starts = np.cumsum(counts) - counts
    # Each symbol starts from a stationary draw; the filter runs within each symbol only.
    traded = counts > 0
    innovations[starts[traded]] = rng.standard_normal(int(traded.sum())) * vol_of_vol[traded]
    log_scale = np.empty(n)
    for s in np.flatnonzero(traded):
        rows = slice(starts[s], starts[s] + counts[s])
        log_scale[rows] = lfilter([1.0], [1.0, -persistence[s]], innovations[rows])
    return shocks, np.exp(log_scale - vol_of_vol[per_trade] ** 2)
