"""Labelled anomalies injected into a copy of a user's own trades, for markets without labels.

Real sources carry no labels, and a model trained on the simulator's market transfers badly to
another one (PITFALLS "Real market data": 0.15 PR-AUC on real trades, against 0.86 when trained
on the same market with injected anomalies). So the tournament's ``labels: injected`` mode takes
the user's silver trades, adds the simulator's anomaly kinds next to randomly chosen real trades,
sized by each symbol's own behaviour measured as the simulator measures its own
(``sources.simulator.behaviour``: trade-to-trade volatility, typical size, typical gap), and
labels them. The copy lives only in memory for training: injected prints never reach
bronze, silver, gold or anomaly_scores.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from financial_mlops.errors import UserError
from financial_mlops.sources.simulator.anomalies import (
    ANOMALY_KINDS,
    Anchors,
    inject,
    plan_events,
)
from financial_mlops.sources.simulator.behaviour import MIN_TRADES, anchor_sigma, measure

TRADE_COLUMNS = ("trade_id", "symbol", "exchange", "event_time", "price", "volume")
INJECTED_PREFIX = "INJ-"
_MIN_HISTORY = MIN_TRADES  # trades of a symbol before one of them may anchor an event


def inject_anomalies(trades: pd.DataFrame, *, rate: float, seed: int,
                     mix: dict[str, float] | None = None) -> tuple[pd.DataFrame, pd.DataFrame]:
    """(trades plus injected prints, labels of all of them).

    ``trades``: silver-shaped rows (``TRADE_COLUMNS``). About ``rate`` of the returned rows are
    injected prints (ids ``INJ-<seed>-<n>``), each next to a real "anchor" trade of a symbol
    with at least a little history, on the anchor's venue or (bursts) on venues the symbol
    trades on. ``mix``: weight per anomaly kind (default equal).
    """
    if not 0 < rate < 0.2:
        raise UserError(f"tournament.injected.rate must be within (0, 0.2), got {rate}")
    trades = trades[list(TRADE_COLUMNS)].sort_values(
        ["symbol", "event_time", "trade_id"], ignore_index=True)
    if trades.empty:
        raise UserError("silver_trades is empty: ingest and run the features pipeline before "
                        "training with tournament.labels=injected")
    rng = np.random.default_rng(seed)
    symbols, symbol = np.unique(trades["symbol"].to_numpy(dtype=str), return_inverse=True)
    venues, venue = np.unique(trades["exchange"].to_numpy(dtype=str), return_inverse=True)
    price = trades["price"].to_numpy(dtype=float)
    ts_ms = trades["event_time"].to_numpy().astype("datetime64[ms]").astype(np.int64)
    behaviour = measure(symbol, ts_ms, price, trades["volume"].to_numpy(dtype=float),
                        len(symbols))

    weights = np.array([float((mix or {}).get(k, 1.0 if mix is None else 0.0))
                        for k in ANOMALY_KINDS])
    kinds, lengths = plan_events(len(trades), rate / (1 - rate), weights, rng)
    position = trades.groupby("symbol").cumcount().to_numpy()
    eligible = np.flatnonzero(position >= _MIN_HISTORY)
    if len(eligible) < len(kinds) or not len(kinds):
        raise UserError(f"silver_trades has too few trades ({len(trades)}) to inject anomalies "
                        f"into: each symbol needs more than {_MIN_HISTORY}")
    at = rng.choice(eligible, size=len(kinds), replace=False)
    decimals = _price_decimals(price)
    anchors = Anchors(symbol=symbol[at], ts_ms=ts_ms[at], venue=venue[at], mid=price[at],
                      price=price[at], sigma=anchor_sigma(behaviour, symbol, price, at),
                      typical_size=behaviour.typical_size[symbol[at]],
                      large_size=behaviour.large_size[symbol[at]],
                      typical_gap_ms=behaviour.typical_gap_ms[symbol[at]],
                      tick=np.full(len(at), 10.0**-decimals))
    # Bursts spread over venues in the proportions the symbol's own trades use.
    starts = np.r_[0, np.cumsum(np.bincount(symbol, minlength=len(symbols)))]

    def draw_venue(of: np.ndarray, generator: np.random.Generator) -> np.ndarray:
        pick = starts[of] + (generator.random(len(of)) * (starts[of + 1] - starts[of])).astype(int)
        return venue[pick]

    new_symbol, new_ts, new_venue, new_price, new_volume, kind = inject(
        anchors, kinds, lengths, rng, draw_venue=draw_venue,
        round_price=lambda p, _: np.maximum(np.round(p, decimals), 10.0**-decimals))
    injected = pd.DataFrame({
        "trade_id": [f"{INJECTED_PREFIX}{seed}-{i:09d}" for i in range(len(kind))],
        "symbol": symbols[new_symbol],
        "exchange": venues[new_venue],
        "event_time": pd.to_datetime(new_ts, unit="ms"),
        "price": new_price.astype(float),
        "volume": new_volume.astype(float),
    })
    labels = pd.DataFrame({
        "trade_id": np.r_[trades["trade_id"].to_numpy(dtype=object),
                          injected["trade_id"].to_numpy(dtype=object)],
        "is_anomaly": np.r_[np.zeros(len(trades), int), np.ones(len(injected), int)],
        "anomaly_type": np.r_[np.full(len(trades), None, dtype=object),
                              np.array(ANOMALY_KINDS, dtype=object)[kind]],
    })
    combined = pd.concat([trades.assign(event_time=trades["event_time"].astype(
        "datetime64[us]")), injected.assign(event_time=injected["event_time"].astype(
            "datetime64[us]"))], ignore_index=True)
    return combined, labels


def _price_decimals(price: np.ndarray) -> int:
    """Decimals the market quotes in (at most 8): the fewest that write 99% of prices exactly."""
    sample = price[:: max(1, len(price) // 10_000)]
    for decimals in range(9):
        on_grid = np.abs(np.round(sample, decimals) - sample) < 1e-9 * np.maximum(sample, 1)
        if np.mean(on_grid) >= 0.99:
            return decimals
    return 8
