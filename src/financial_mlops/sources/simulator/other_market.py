"""A second simulated market, built independently of the default universe, for judging a model
on a market it never saw (and for testing the injected-labels mode on a market the simulator's
anomaly code did not make).

It differs where real markets differ from the default one: other symbols (tickers in real
spellings), price levels from pennies to thousands with tick sizes to match, venue names with
spaces, activity concentrated in a few symbols (Zipf), heavy-tailed returns (Student-t, 3
degrees of freedom) with longer volatility clusters, and heavy-tailed sizes with many
odd lots. It has no anomalies of its own: labels come from ``modeling.injected``.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from .shocks import clustered_shocks

SYMBOLS = ("PNNY", "BRK.A", "btcusdt", "6758.T", "ES=F", "VOD.L", "SIRI", "BRK/B", "0700.HK",
           "MEME", "AMZN.MX", "XYZW")
LEVELS = (0.05, 5200.0, 61000.0, 2900.0, 5400.0, 0.72, 3.2, 410.0, 380.0, 0.013, 3100.0, 17.5)
VENUES = ("NASDAQ BX", "NYSE ARCA", "BATS Y", "FINRA ADF", "NASDAQ PSX", "Cboe EDGX", "MEMX",
          "IEX", "NYSE American", "XTKS", "binance")
# Heavier tails and longer calm and wild stretches than the default market's.
_SHOCKS = {"dof": 3.0, "persistence": 0.998, "vol_of_vol": 0.7}


def _tick(level: float) -> float:
    return 0.0001 if level < 1 else 0.01 if level < 1000 else 0.5


def other_market(n_trades: int, *, seed: int = 0, start: str = "2026-03-02 00:00:00"
                 ) -> pd.DataFrame:
    """``n_trades`` trades (trade_id, symbol, exchange, event_time, price, volume), time-sorted."""
    rng = np.random.default_rng(seed)
    activity = 1.0 / np.arange(1, len(SYMBOLS) + 1) ** 1.3  # a few symbols carry most prints
    activity = rng.permutation(activity / activity.sum())
    symbol = rng.choice(len(SYMBOLS), n_trades, p=activity)
    seconds = np.cumsum(rng.exponential(0.05, n_trades))
    price = np.empty(n_trades)
    volume = np.empty(n_trades)
    counts = np.bincount(symbol, minlength=len(SYMBOLS))
    shocks, scales = clustered_shocks(counts, rng, **_SHOCKS)
    starts = np.cumsum(counts) - counts
    for s, level in enumerate(LEVELS):
        rows = np.flatnonzero(symbol == s)
        own = slice(starts[s], starts[s] + counts[s])
        sigma0 = rng.uniform(2e-4, 2e-3)
        log_price = np.log(level) + np.cumsum(sigma0 * scales[own] * shocks[own])
        tick = _tick(level)
        price[rows] = np.maximum(np.round(np.exp(log_price) / tick) * tick, tick)
        sizes_for_level = [1, 5, 40, 300, 2000, 20000] if level < 1000 else [1, 3, 10]
        typical = rng.choice(sizes_for_level)
        sizes = rng.lognormal(0.0, 1.1, len(rows)) * typical
        volume[rows] = np.maximum(np.round(sizes), 1)  # many odd lots, whole units
    venue_weights = rng.dirichlet(np.ones(len(VENUES)) * 0.7, len(SYMBOLS))
    u = rng.random(n_trades)
    venue = np.minimum((u[:, None] > np.cumsum(venue_weights, axis=1)[symbol]).sum(axis=1),
                       len(VENUES) - 1)
    return pd.DataFrame({
        "trade_id": [f"OM{seed}-{i:09d}" for i in range(n_trades)],
        "symbol": np.array(SYMBOLS)[symbol],
        "exchange": np.array(VENUES)[venue],
        "event_time": pd.Timestamp(start) + pd.to_timedelta(np.round(seconds * 1e3), unit="ms"),
        "price": price,
        "volume": volume,
    })
