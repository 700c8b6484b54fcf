"""`simulate_batch`: one batch of the market, its labels, and the state to continue from."""

import numpy as np
import pandas as pd

from . import arguments
from .anomalies import ANOMALY_KINDS, MAX_EVENT_SPAN_MS, Anchors, inject, plan_events
from .behaviour import Behaviour, anchor_sigma, measure
from .clock import TRADES_PER_SECOND, arrival_times_ms, session_position
from .market import (
    draw_sizes,
    large_sizes,
    per_trade_sigma,
    tick_round,
    trade_to_trade_sigma,
    venue_prints,
    walk_mids,
)
from .state import Market, fresh_market, iso_ms, market_from_state, state_of
from .traits import draw_traits
from .universe import ACTIVITY, EXCHANGES, MEDIAN_SIZE, OPEN_PRICES, SYMBOLS, draw_venues

_KIND_NAMES = np.array([*ANOMALY_KINDS, None], dtype=object)  # kind -1 (normal) maps to None


def simulate_batch(
    n_trades: int,
    *,
    seed: int = 42,
    state: dict | None = None,
    anomaly_rate: float = 0.005,
    regime: dict | None = None,
    start: str = "2026-01-05T14:30:00Z",
) -> tuple[pd.DataFrame, pd.DataFrame, dict]:
    """Return (trades, labels, next_state).

    `state=None` opens a fresh market at `start` (or the next session open after it);
    otherwise the batch continues prices, clock and trade ids from `state`, a JSON-serialisable
    dict returned by the previous call. Batch k draws from an RNG seeded by (seed, k), so the
    same seed and state always give the same batch. `regime` shifts the market for drift tests:
    `volatility_multiplier`, `volume_multiplier` (positive, default 1) and `anomaly_mix`
    (kind -> non-negative share of the labelled prints; kinds left out get 0; default equal).
    """
    n_trades = arguments.whole_number(n_trades, "n_trades", minimum=1)
    seed = arguments.whole_number(seed, "seed", minimum=0)
    rate = arguments.anomaly_rate(anomaly_rate)
    volatility, volume_scale, mix = arguments.regime(regime)
    market = fresh_market(start) if state is None else market_from_state(state)
    rng = np.random.default_rng([seed, market.batch_index])

    kinds, lengths = plan_events(n_trades, rate, mix, rng)
    n_normal = n_trades - int(lengths.sum())
    ts_ms, close_ms = arrival_times_ms(*session_position(market.clock_ms), n_normal, rng)
    symbol = rng.choice(len(SYMBOLS), size=n_normal, p=ACTIVITY)
    venue = draw_venues(symbol, rng)
    traits = draw_traits(seed, OPEN_PRICES)
    sigma = per_trade_sigma(volatility) * traits.volatility
    log_mid, last_log_mid, local_sigma = walk_mids(symbol, np.log(market.mids), sigma, traits,
                                                   rng)
    price = venue_prints(log_mid, local_sigma, traits.venue_noise[symbol], traits.tick[symbol],
                         rng)
    typical_size = MEDIAN_SIZE * volume_scale
    volume = draw_sizes(typical_size[symbol], rng, traits, symbol)

    # Anomalies are sized by each symbol's behaviour as measured on its prints, as the
    # injector measures a user's market; the model's values stand in for a symbol with few.
    expected_sigma = trade_to_trade_sigma(sigma, np.exp(last_log_mid), traits)
    expected = Behaviour(expected_sigma, expected_sigma, typical_size,
                         large_sizes(typical_size, traits), 1000 / (TRADES_PER_SECOND * ACTIVITY))
    behaviour = measure(symbol, ts_ms, price, volume, len(SYMBOLS)).filled(expected)
    at = _anchor_positions(close_ms - ts_ms, len(kinds), rng)
    anchors = Anchors(
        symbol=symbol[at],
        ts_ms=ts_ms[at],
        venue=venue[at],
        mid=np.exp(log_mid[at]),
        price=price[at],
        sigma=anchor_sigma(behaviour, symbol, price, at),
        typical_size=behaviour.typical_size[symbol[at]],
        large_size=behaviour.large_size[symbol[at]],
        typical_gap_ms=behaviour.typical_gap_ms[symbol[at]],
        tick=traits.tick[symbol[at]],
    )
    anomalous = inject(anchors, kinds, lengths, rng,
                       round_price=lambda p, of: tick_round(p, traits.tick[of]))
    normal = (symbol, ts_ms, venue, price, volume, np.full(n_normal, -1))
    columns = [np.concatenate(pair) for pair in zip(normal, anomalous, strict=True)]
    order = np.argsort(columns[1], kind="stable")
    symbol, ts_ms, venue, price, volume, kind = (column[order] for column in columns)

    numbers = np.arange(market.next_trade_number, market.next_trade_number + n_trades)
    trade_id = np.strings.add("SIM-", np.strings.zfill(numbers.astype(str), 12))
    trades = pd.DataFrame(
        {
            "trade_id": trade_id,
            "symbol": np.array(SYMBOLS)[symbol],
            "price": price.astype(np.float64),
            "volume": volume.astype(np.float64),
            "timestamp": iso_ms(ts_ms),
            "exchange": np.array(EXCHANGES)[venue],
        }
    )
    labels = pd.DataFrame(
        {
            "trade_id": trade_id,
            "is_anomaly": (kind >= 0).astype(np.int64),
            "anomaly_type": pd.Series(_KIND_NAMES[kind], dtype=object),
        }
    )
    after = Market(
        market.batch_index + 1, int(numbers[-1]) + 1, int(ts_ms[-1]), np.exp(last_log_mid)
    )
    return trades, labels, state_of(after)


def _anchor_positions(room_before_close_ms: np.ndarray, n_events: int, rng) -> np.ndarray:
    """Distinct normal trades to anchor events on, preferring ones with room before the close."""
    roomy = np.flatnonzero(room_before_close_ms > MAX_EVENT_SPAN_MS)
    candidates = roomy if len(roomy) >= n_events else np.arange(len(room_before_close_ms))
    return rng.choice(candidates, size=n_events, replace=False)
