"""Each symbol's character, drawn per seed: how volatile it is trade to trade, how heavy its
tails are, how its volatility clusters, how far venues' prints stray, how its sizes spread, how
coarse its tick is.

Domain randomisation: a model trained on one fixed kind of market learns that market's normal
and calls another market's normal prints anomalous (trained when every simulated symbol moved
0.3-6 bp per trade, it flagged a market whose symbols move 2-20 bp). A market whose symbols each
behave differently teaches what is normal relative to a symbol's own behaviour.
"""

from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class Traits:
    """Per symbol (index = symbol number)."""

    volatility: np.ndarray  # multiplies its listing's volatility: per-trade moves of 0.1-100 bp
    dof: np.ndarray  # Student-t degrees of freedom of its returns (lower: heavier tails)
    persistence: np.ndarray  # per trade, of its log volatility (closer to 1: longer stretches)
    vol_of_vol: np.ndarray  # sd of its log volatility multiplier
    venue_noise: np.ndarray  # a venue print's deviation from the mid, in trade moves
    size_log_sd: np.ndarray  # spread of its print sizes' lognormal body
    tail_share: np.ndarray  # share of its prints with a Pareto (block) tail
    tail_alpha: np.ndarray  # that tail's exponent (lower: larger blocks)
    round_lot_share: np.ndarray  # of its prints of 50 shares or more, snapped to 100s
    # Its price increment: 0.3-100 bp of its listing price. A coarse tick (a sub-dollar stock,
    # a coarse-ticked future) holds the price still for many trades, then moves it a whole
    # tick, which is a jump in units of its recent moves; a fine one moves it every trade.
    tick: np.ndarray


def draw_traits(seed: int, open_prices: np.ndarray) -> Traits:
    """The symbols' traits for a seed: the same for every batch of it."""
    n_symbols = len(open_prices)
    # Its own stream: a spawned child of the seed, apart from the batches' (seed, batch) ones.
    rng = np.random.default_rng(np.random.SeedSequence(seed, spawn_key=(1,)))
    return Traits(
        volatility=np.exp(rng.uniform(np.log(0.5), np.log(20.0), n_symbols)),
        dof=rng.uniform(2.5, 8.0, n_symbols),
        persistence=1 - np.exp(rng.uniform(np.log(1e-3), np.log(3e-2), n_symbols)),
        vol_of_vol=rng.uniform(0.3, 1.0, n_symbols),
        venue_noise=rng.uniform(0.0, 0.6, n_symbols),
        size_log_sd=rng.uniform(0.5, 1.4, n_symbols),
        tail_share=rng.uniform(0.0, 0.08, n_symbols),
        tail_alpha=rng.uniform(1.3, 2.5, n_symbols),
        round_lot_share=rng.uniform(0.0, 0.9, n_symbols),
        tick=_round_tick(open_prices * np.exp(rng.uniform(np.log(3e-5), np.log(1e-2), n_symbols))),
    )


def _round_tick(raw: np.ndarray) -> np.ndarray:
    """The increment a market would quote: 1, 2 or 5 times a power of ten, at least 0.0001."""
    power = 10.0 ** np.floor(np.log10(raw))
    steps = np.array([1.0, 2.0, 5.0, 10.0])
    nearest = steps[np.abs(np.log(raw / power)[:, None] - np.log(steps)).argmin(axis=1)]
    return np.maximum(np.round(nearest * power, 4), 1e-4)
