"""A symbol's own behaviour, measured the same way on any market: what anomalies are sized by.

The simulator measures its normal prints with it and the injector (``modeling.injected``) a
user's trades, so "12 sigma off" means the same thing on both: a $2 stock and a $5,000 one, a
symbol trading 10 times a minute and one trading 10,000 times, get the same relative anomaly.
"""

from dataclasses import dataclass

import numpy as np

MIN_TRADES = 30  # fewer trades of a symbol than this measure nothing (NaN)
_TRIM = 0.99  # the largest 1 % of moves are left out: a market's own anomalies do not count
_MIN_SIGMA = 1e-5  # 0.1 bp: a symbol that never moves still gets visible moves


@dataclass(frozen=True)
class Behaviour:
    """Per symbol (index = symbol number); NaN where the symbol has under MIN_TRADES trades."""

    sigma: np.ndarray  # RMS of its trade-to-trade log returns, largest 1 % trimmed
    typical_size: np.ndarray  # median print size
    typical_gap_ms: np.ndarray  # mean time between its trades

    def filled(self, fallback: "Behaviour") -> "Behaviour":
        """This behaviour, with `fallback`'s values where it measured nothing."""
        return Behaviour(*(np.where(np.isnan(mine), theirs, mine) for mine, theirs in
                           zip((self.sigma, self.typical_size, self.typical_gap_ms),
                               (fallback.sigma, fallback.typical_size, fallback.typical_gap_ms),
                               strict=True)))


def measure(symbol: np.ndarray, ts_ms: np.ndarray, price: np.ndarray, volume: np.ndarray,
            n_symbols: int) -> Behaviour:
    """Each symbol's behaviour from its trades (``symbol``: index per trade, rows in time
    order within each symbol)."""
    sigma, size, gap = (np.full(n_symbols, np.nan) for _ in range(3))
    order = np.argsort(symbol, kind="stable")
    bounds = np.r_[0, np.cumsum(np.bincount(symbol, minlength=n_symbols))]
    log_price, volume, ts_ms = np.log(price[order]), volume[order], ts_ms[order]
    for s in np.flatnonzero(np.diff(bounds) >= MIN_TRADES):
        rows = slice(bounds[s], bounds[s + 1])
        moves = np.abs(np.diff(log_price[rows]))
        kept = moves[moves <= np.quantile(moves, _TRIM)]
        sigma[s] = max(float(np.sqrt(np.mean(kept**2))), _MIN_SIGMA)
        size[s] = float(np.median(volume[rows]))
        times = ts_ms[rows]
        gap[s] = max((times[-1] - times[0]) / (len(times) - 1), 1.0)
    return Behaviour(sigma, size, gap)


RECENT_TRADES = 100  # the symbol's recent trades an anchor's current volatility is read from


def recent_sigma(symbol: np.ndarray, price: np.ndarray, at: np.ndarray,
                 window: int = RECENT_TRADES) -> np.ndarray:
    """RMS of the last ``window`` trade-to-trade log returns of each anchor's symbol, up to and
    including the anchor (rows ``at``; ``symbol`` and ``price`` in time order within each
    symbol); NaN with none. Volatility clusters: a move of 12 of the symbol's whole-sample
    sigmas is 3 of a wild stretch's, and is not anomalous there. Anomalies are sized by the
    larger of the two (``np.fmax``), so each is anomalous in the regime it lands in too."""
    order = np.argsort(symbol, kind="stable")
    where = np.empty(len(order), dtype=np.int64)
    where[order] = np.arange(len(order))
    sorted_symbol, log_price = symbol[order], np.log(price[order])
    returns = np.r_[0.0, np.diff(log_price)]
    first = np.r_[True, sorted_symbol[1:] != sorted_symbol[:-1]]
    returns[first] = 0.0
    starts = np.maximum.accumulate(np.where(first, np.arange(len(order)), 0))
    squares = np.r_[0.0, np.cumsum(returns**2)]
    i = where[at]
    lo = np.maximum(i - window + 1, starts[i] + 1)
    n = i - lo + 1
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(n > 0, np.sqrt((squares[i + 1] - squares[lo]) / n), np.nan)


def anchor_sigma(behaviour: Behaviour, symbol: np.ndarray, price: np.ndarray,
                 at: np.ndarray) -> np.ndarray:
    """The volatility anomalies at rows ``at`` are sized by, in the simulator and the injector
    alike: the larger of the symbol's whole-sample and recent sigma."""
    return np.fmax(behaviour.sigma[symbol[at]], recent_sigma(symbol, price, at))
