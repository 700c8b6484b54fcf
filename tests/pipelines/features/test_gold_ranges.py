"""Gold split into time ranges (a busy symbol computed in parallel pieces) equals gold computed
symbol by symbol, row for row and bit for bit, boundaries and ties in event time included."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from financial_mlops.features.gold import history_needed, time_ranges, trade_features
from financial_mlops.spark import from_pandas


def _trades(rng: np.random.Generator, symbol: str, n: int, gap_seconds: list[float]
            ) -> pd.DataFrame:
    """``n`` trades whose gaps change stretch by stretch (dense, then sparse, ...), with about
    a third of them in the same millisecond as the trade before (ties in event time)."""
    stretches = np.array_split(np.arange(n), len(gap_seconds))
    gaps = np.concatenate([rng.exponential(g, len(s)) for g, s in zip(gap_seconds, stretches,
                                                                        strict=True)])
    gaps[rng.random(n) < 0.35] = 0.0
    ms = np.floor(np.cumsum(gaps) * 1000).astype("int64")
    return pd.DataFrame({
        "trade_id": [f"{symbol}-{i:05d}" for i in rng.permutation(n)],  # ids not in time order
        "symbol": symbol,
        "exchange": rng.choice(["XNAS", "ARCX", "BATS"], n),
        "event_time": pd.Timestamp("2026-03-02 14:30:00") + pd.to_timedelta(ms, unit="ms"),
        "price": np.round(100 * np.exp(np.cumsum(rng.standard_t(3, n) * 1e-3)), 2),
        "volume": np.round(rng.lognormal(4, 1, n)),
    })


@pytest.fixture(scope="module")
def silver(spark):
    rng = np.random.default_rng(17)
    frame = pd.concat([_trades(rng, "BUSY", 900, [0.2, 4.0, 0.05, 1.0]),
                       _trades(rng, "QUIET", 40, [20.0])])
    return from_pandas(spark, frame, "trade_id string, symbol string, exchange string, "
                                     "event_time timestamp, price double, volume double")


def test_gold_in_time_ranges_equals_gold_symbol_by_symbol(silver, features_params):
    # 60 trades a range: a range's history (101 trades) reaches back over several ranges in
    # the sparse stretches; in the dense ones its 30 seconds hold more than that.
    gold = {**features_params["gold"], "range_trades": 60}
    ranges = time_ranges(silver, gold)
    plan = ranges.toPandas()
    assert set(plan["_range_symbol"]) == {"BUSY"}  # QUIET has too few trades to split
    assert len(plan) >= 900 // 120
    # Every range but the first reads history from before its start, at least the seconds
    # the windows need.
    later = plan[plan["_from"].notna()]
    _, seconds = history_needed(gold)
    assert (later["_read_from"].isna()
            | (later["_read_from"] <= later["_from"] - seconds * 1_000_000)).all()

    split, whole = (trade_features(silver, gold, r).toPandas().sort_values("trade_id")
                    .reset_index(drop=True) for r in (ranges, None))
    assert len(split) == 940
    pd.testing.assert_frame_equal(split, whole, check_exact=True)


def test_no_symbol_large_enough_means_no_ranges(silver, features_params):
    assert time_ranges(silver, {**features_params["gold"], "range_trades": 1000}) is None
