"""A symbol's own behaviour, measured the same way on any market: what anomalies are sized by.

The simulator measures its normal prints with it and the injector (``modeling.injected``) a
user's trades, so "12 sigma off" means the same thing on both: a $2 stock and a $5,000 one, a
symbol trading 10 times a minute and one trading 10,000 times, get the same relative anomaly.
"""

from dataclasses import dataclass, fields

import numpy as np
from scipy.stats import norm

MIN_TRADES = 30  # fewer trades of a symbol than this measure nothing (NaN)
_TRIM = 0.99  # the largest 1 % of moves are left out: a market's own anomalies do not count
_MIN_SIGMA = 1e-5  # 0.1 bp: a symbol that never moves still gets visible moves
TAIL = 0.999  # the quantile a symbol's largest normal moves and prints are read at
_GAUSSIAN_TAIL = float(norm.ppf(0.5 + TAIL / 2))  # |move| at TAIL in sigmas on a Gaussian market


@dataclass(frozen=True)
class Behaviour:
    """Per symbol (index = symbol number); NaN where the symbol has under MIN_TRADES trades."""

    sigma: np.ndarray  # the unit of its moves: RMS, or its tail's equivalent (``measure``)
    rms: np.ndarray  # RMS of its trade-to-trade log returns, largest 1 % trimmed
    typical_size: np.ndarray  # median print size
    large_size: np.ndarray  # its TAIL quantile print size: its largest normal prints
    typical_gap_ms: np.ndarray  # mean time between its trades

    def filled(self, fallback: "Behaviour") -> "Behaviour":
        """This behaviour, with `fallback`'s values where it measured nothing."""
        return Behaviour(*(np.where(np.isnan(getattr(self, f.name)), getattr(fallback, f.name),
                                    getattr(self, f.name)) for f in fields(self)))


def measure(symbol: np.ndarray, ts_ms: np.ndarray, price: np.ndarray, volume: np.ndarray,
            n_symbols: int) -> Behaviour:
    """Each symbol's behaviour from its trades (``symbol``: index per trade, rows in time
    order within each symbol).

    Its volatility unit ``sigma`` is the larger of the RMS and the TAIL quantile of its moves
    over what that quantile is in sigmas on a Gaussian market: on a heavy-tailed symbol a
    "12-sigma" move of the RMS is one its normal trades make, so there a sigma is worth more, and
    an anomaly sized in sigmas is as far beyond the symbol's own largest moves on any market."""
    sigma, rms, size, large, gap = (np.full(n_symbols, np.nan) for _ in range(5))
    order = np.argsort(symbol, kind="stable")
    bounds = np.r_[0, np.cumsum(np.bincount(symbol, minlength=n_symbols))]
    log_price, volume, ts_ms = np.log(price[order]), volume[order], ts_ms[order]
    for s in np.flatnonzero(np.diff(bounds) >= MIN_TRADES):
        rows = slice(bounds[s], bounds[s + 1])
        moves = np.abs(np.diff(log_price[rows]))
        kept = moves[moves <= np.quantile(moves, _TRIM)]
        rms[s] = max(float(np.sqrt(np.mean(kept**2))), _MIN_SIGMA)
        sigma[s] = max(rms[s], float(np.quantile(moves, TAIL)) / _GAUSSIAN_TAIL)
        size[s], large[s] = np.quantile(volume[rows], [0.5, TAIL])
        times = ts_ms[rows]
        gap[s] = max((times[-1] - times[0]) / (len(times) - 1), 1.0)
    return Behaviour(sigma, rms, size, large, gap)


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
    alike: the symbol's sigma, scaled up by its recent RMS over its whole-sample RMS when higher
    (a wild stretch)."""
    s = symbol[at]
    wild = np.fmax(recent_sigma(symbol, price, at) / behaviour.rms[s], 1.0)
    return behaviour.sigma[s] * wild
