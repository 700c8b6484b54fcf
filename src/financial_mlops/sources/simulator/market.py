"""Normal market behaviour: per-symbol heavy-tailed random walks, venue prints and trade sizes."""

import numpy as np

from .clock import TRADES_PER_SESSION
from .shocks import clustered_shocks
from .universe import ACTIVITY, ANNUAL_VOL, TICK

TRADING_DAYS_PER_YEAR = 252
VENUE_NOISE = 0.3  # a venue's print deviates from the mid by this fraction of a trade's move
ROUND_LOT_SHARE = 0.6  # of prints of 50 shares or more
_SIZE_LOG_SD = 0.9
_TAIL_SHARE, _TAIL_ALPHA = 0.04, 1.8


def per_trade_sigma(volatility_multiplier: float) -> np.ndarray:
    """Log-return sd of one trade's mid move, so each symbol's daily moves match its annual vol."""
    trades_per_day = TRADES_PER_SESSION * ACTIVITY
    return volatility_multiplier * ANNUAL_VOL / np.sqrt(TRADING_DAYS_PER_YEAR * trades_per_day)


def trade_to_trade_sigma(sigma: np.ndarray, prices: np.ndarray) -> np.ndarray:
    """Sd of the log return between two prints: mid move, two venue noises, two tick roundings."""
    tick_var = (TICK / prices) ** 2 / 12
    return np.sqrt(sigma**2 * (1 + 2 * VENUE_NOISE**2) + 2 * tick_var)


def walk_mids(
    symbol: np.ndarray, start_log_mid: np.ndarray, sigma: np.ndarray, rng: np.random.Generator
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Log mid of each trade after a step per trade of its symbol, each symbol's last log mid,
    and each trade's volatility. Steps are heavy-tailed with clustered volatility
    (``shocks.clustered_shocks``), so the symbol's sd stays ``sigma``."""
    order = np.argsort(symbol, kind="stable")
    counts = np.bincount(symbol, minlength=len(start_log_mid))
    shocks, scale = clustered_shocks(counts, rng)
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


def tick_round(prices: np.ndarray) -> np.ndarray:
    return np.maximum(np.round(prices, 2), TICK)


def venue_prints(log_mid: np.ndarray, sigma: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Printed prices: the shared mid with a little venue noise, on the tick grid."""
    noise = VENUE_NOISE * sigma * rng.standard_normal(len(log_mid))
    return tick_round(np.exp(log_mid + noise))


def round_lots(shares: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Whole shares, most larger prints snapped to multiples of 100 as real order flow is."""
    lot = (shares >= 50) & (rng.random(len(shares)) < ROUND_LOT_SHARE)
    lots = np.maximum(np.round(shares / 100), 1) * 100
    return np.where(lot, lots, np.maximum(np.ceil(shares), 1))


# A draw_sizes print's behaviour.TAIL quantile in typical sizes: a quiet symbol's large prints.
LARGE_SIZE_RATIO = 21.0


def draw_sizes(typical: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Heavy-tailed sizes: a lognormal body and a Pareto tail, uncapped. Real feeds carry
    the odd block of 20-50 typical sizes among normal prints; a market without them teaches a
    model that any large print is an anomaly."""
    n = len(typical)
    body = rng.lognormal(0.0, _SIZE_LOG_SD, n)
    tail = rng.random(n) < _TAIL_SHARE
    x = np.where(tail, body * (1 + rng.pareto(_TAIL_ALPHA, n)), body)
    return round_lots(x * typical, rng)
