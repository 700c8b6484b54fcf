"""Normal market behaviour: per-symbol heavy-tailed random walks, venue prints and trade sizes."""

import numpy as np
from scipy.stats import norm

from .behaviour import TAIL
from .clock import TRADES_PER_SESSION
from .shocks import clustered_shocks
from .traits import Traits
from .universe import ACTIVITY, ANNUAL_VOL

TRADING_DAYS_PER_YEAR = 252
ROUND_LOT_SHARE = 0.6  # of prints of 50 shares or more, by default (anomalies' sizes)
_SIZE_LOG_SD = 0.9
_TAIL_SHARE, _TAIL_ALPHA = 0.04, 1.8


def per_trade_sigma(volatility_multiplier: float) -> np.ndarray:
    """Log-return sd of one trade's mid move, so each symbol's daily moves match its annual vol."""
    trades_per_day = TRADES_PER_SESSION * ACTIVITY
    return volatility_multiplier * ANNUAL_VOL / np.sqrt(TRADING_DAYS_PER_YEAR * trades_per_day)


def trade_to_trade_sigma(sigma: np.ndarray, prices: np.ndarray, traits: Traits) -> np.ndarray:
    """Sd of the log return between two prints: mid move, two venue noises, two tick roundings."""
    tick_var = (traits.tick / prices) ** 2 / 12
    return np.sqrt(sigma**2 * (1 + 2 * traits.venue_noise**2) + 2 * tick_var)


def walk_mids(
    symbol: np.ndarray, start_log_mid: np.ndarray, sigma: np.ndarray, traits: Traits,
    rng: np.random.Generator
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Log mid of each trade after a step per trade of its symbol, each symbol's last log mid,
    and each trade's volatility. Steps are heavy-tailed with clustered volatility
    (``shocks.clustered_shocks``, with each symbol's traits), so the symbol's sd stays
    ``sigma``."""
    order = np.argsort(symbol, kind="stable")
    counts = np.bincount(symbol, minlength=len(start_log_mid))
    shocks, scale = clustered_shocks(counts, rng, dof=traits.dof,
                                     persistence=traits.persistence,
                                     vol_of_vol=traits.vol_of_vol)
    local_sigma = np.empty(len(symbol))
    local_sigma[order] = sigma[symbol[order]] * scale
    steps = shocks * local_sigma[order] - 0.5 * local_sigma[order] ** 2
    walked = np.cumsum(steps)
    ends = np.cumsum(counts)
    before_group = np.concatenate(([0.0], walked))[ends - counts]
    log_mid = np.empty(len(symbol))
    log_mid[order] = start_log_mid[symbol[order]] + walked - np.repeat(before_group, counts)
    last = start_log_mid.copy()
    traded = counts > 0
    last[traded] = log_mid[order][ends[traded] - 1]
    return log_mid, last, local_sigma


def tick_round(prices: np.ndarray, tick: np.ndarray) -> np.ndarray:
    """Prices on their tick grid (``tick`` per price), written without float residue."""
    return np.round(np.maximum(np.round(prices / tick), 1) * tick, 8)


def venue_prints(log_mid: np.ndarray, sigma: np.ndarray, venue_noise: np.ndarray,
                 tick: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Printed prices: the shared mid with a little venue noise (``venue_noise`` of a trade's
    move, per print), on the tick grid (``tick`` per print)."""
    noise = venue_noise * sigma * rng.standard_normal(len(log_mid))
    return tick_round(np.exp(log_mid + noise), tick)


def round_lots(shares: np.ndarray, rng: np.random.Generator,
               share: float | np.ndarray = ROUND_LOT_SHARE) -> np.ndarray:
    """Whole shares, ``share`` of larger prints snapped to multiples of 100 as much real order
    flow is."""
    lot = (shares >= 50) & (rng.random(len(shares)) < share)
    lots = np.maximum(np.round(shares / 100), 1) * 100
    return np.where(lot, lots, np.maximum(np.ceil(shares), 1))


def large_sizes(typical: np.ndarray, traits: Traits) -> np.ndarray:
    """Each symbol's ``behaviour.TAIL`` quantile print size by its traits (that of its sizes'
    lognormal body, the rarer Pareto blocks left out): stands in for a symbol with few prints."""
    return typical * np.exp(norm.ppf(TAIL) * traits.size_log_sd)


def draw_sizes(typical: np.ndarray, rng: np.random.Generator, traits: Traits | None = None,
               symbol: np.ndarray | None = None) -> np.ndarray:
    """Heavy-tailed sizes: a lognormal body and a Pareto tail, uncapped, shaped by each print's
    symbol's ``traits`` (by default a middling symbol's). Real feeds carry the odd block of
    20-50 typical sizes among normal prints; a market without them teaches a model that any
    large print is an anomaly."""
    n = len(typical)
    if traits is None:
        log_sd, share, alpha, lots = _SIZE_LOG_SD, _TAIL_SHARE, _TAIL_ALPHA, ROUND_LOT_SHARE
    else:
        log_sd, share, alpha, lots = (v[symbol] for v in (
            traits.size_log_sd, traits.tail_share, traits.tail_alpha, traits.round_lot_share))
    body = np.exp(rng.standard_normal(n) * log_sd)
    tail = rng.random(n) < share
    x = np.where(tail, body * (1 + rng.pareto(alpha, n)), body)
    return round_lots(x * typical, rng, lots)
