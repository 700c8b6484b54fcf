"""Gold: per-trade features from each symbol's recent history, in event-time order.

Every feature of a trade depends only on that trade and on the trades of its symbol before it:
the previous ``max(windows)`` trades and those of the last ``max(recent_seconds,
cross_exchange_seconds)`` seconds (``history_needed``). That is what lets an incremental run
recompute a symbol's newest rows from a short tail of silver and get the one-go result.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

from pyspark.sql import Column, DataFrame, Window
from pyspark.sql import functions as F

GOLD_KEYS = ("trade_id", "symbol", "exchange", "event_time", "price", "volume")
_MICROS = 1_000_000
_DAY_MICROS = 86_400 * _MICROS
_FLAT = 1e-6  # a std under this fraction of the mean is rounding noise


def history_needed(gold: Mapping[str, Any]) -> tuple[int, int]:
    """(trades, seconds) of a symbol's history before a trade that its features read."""
    windows = [int(n) for n in gold["windows"]]
    seconds = max(int(gold["recent_seconds"]), int(gold["cross_exchange_seconds"]))
    return max(windows), seconds


def trade_features(trades: DataFrame, gold: Mapping[str, Any]) -> DataFrame:
    """One row per trade: ``GOLD_KEYS`` plus the ``f_*`` features, all finite doubles.

    Rolling statistics describe the *previous* N trades, so a trade is measured against a
    history it is not part of (a spike does not dampen its own z-score). Where history is too
    short a feature takes its neutral value: 0, a rank of 0.5, a mean equal to the trade's own
    value. Divisions use ``try_divide``: flat prices give a zero std under ANSI mode.
    """
    windows = sorted({int(n) for n in gold["windows"]})
    recent = int(gold["recent_seconds"])
    # Symbols differ a lot in size. Ranges of symbols, cut where Spark's sample of the input
    # balances them, keep all cores busy; hashing can stack two large symbols in one task.
    by_symbol = trades.repartitionByRange(int(gold["partitions"]), "symbol")
    history = _history_aggregates(by_symbol, windows, recent, int(gold["cross_exchange_seconds"]))
    price, volume, t = F.col("price"), F.col("volume"), F.col("_t")

    features: dict[str, tuple[Column, Column | float]] = {
        "f_log_return": (F.ln(price) - F.ln(F.col("_prev_price")), 0.0),
        "f_seconds_since_prev": ((t - F.col("_prev_t")) / _MICROS, 0.0),
    }
    for n in windows:
        count = F.least(F.col("_position") - 1, F.lit(n))  # trades in the window so far
        for name, column in (("price", price), ("volume", volume)):
            mean = F.try_divide(F.col(f"_{name}_sum_{n}"), count)
            std = _std_from_sums(F.col(f"_{name}_sum_{n}"), F.col(f"_{name}_squares_sum_{n}"),
                                 count)
            features[f"f_{name}_mean_{n}"] = (mean, column)
            features[f"f_{name}_std_{n}"] = (std, 0.0)
            features[f"f_{name}_z_{n}"] = (F.try_divide(column - mean, std), 0.0)
            features[f"f_{name}_dev_{n}"] = (F.try_divide(column, mean) - 1, 0.0)
        vwap = F.try_divide(F.col(f"_notional_sum_{n}"), F.col(f"_volume_sum_{n}"))
        features[f"f_vwap_dev_{n}"] = (F.try_divide(price, vwap) - 1, 0.0)
    features[f"f_size_rank_{windows[0]}"] = (_size_rank(F.col("_sizes")), 0.5)
    features[f"f_trades_last_{recent}s"] = (F.col("_recent_count"), 0.0)
    features[f"f_volume_last_{recent}s"] = (F.col("_recent_volume"), 0.0)
    others_mean = F.try_divide(F.col("_all_sum") - F.col("_venue_sum"),
                               F.col("_all_count") - F.col("_venue_count"))
    features["f_cross_exchange_dev"] = (F.try_divide(price, others_mean) - 1, 0.0)
    features["f_time_of_day"] = ((t % _DAY_MICROS) / _DAY_MICROS, 0.0)

    # Values first, then their finite form, so that no expression is evaluated twice.
    values = history.select(
        *GOLD_KEYS, *(value.alias(name) for name, (value, _) in features.items()))
    return values.select(
        *GOLD_KEYS,
        *(_finite(F.col(name), neutral).alias(name) for name, (_, neutral) in features.items()),
    )


def _history_aggregates(trades: DataFrame, windows: list[int], recent: int,
                        cross: int) -> DataFrame:
    """Every window aggregate the features use, each computed once, as ``_*`` columns.

    The sums over the previous N trades add up blocks of ``gcd(windows)`` trades, reached with
    ``lag``: Spark recomputes a sliding frame at every row, so a 100-trade sum slides five
    20-trade blocks instead of 100 values. Sums are also several times cheaper to slide than
    ``stddev_samp``; the standard deviations come from sums of squares.
    """
    # `_t` (event time in microseconds) first in both orders: one sort serves both.
    in_order = Window.partitionBy("symbol").orderBy("_t", "trade_id")
    by_time = Window.partitionBy("symbol").orderBy("_t")
    by_venue_time = Window.partitionBy("symbol", "exchange").orderBy("_t")
    price, volume = F.col("price"), F.col("volume")
    block = math.gcd(*windows)
    in_block = in_order.rowsBetween(-block, -1)
    sums = {"price": price, "price_squares": price * price, "volume": volume,
            "volume_squares": volume * volume, "notional": price * volume}
    last_seconds = by_time.rangeBetween(-recent * _MICROS, 0)
    # Cross-venue: all venues' sum and count minus the trade's own venue's, over the span
    # before the trade, so no venue list is needed.
    span = (-cross * _MICROS, -1)
    first_pass = [
        F.row_number().over(in_order).alias("_position"),
        F.lag(price).over(in_order).alias("_prev_price"),
        F.lag("_t").over(in_order).alias("_prev_t"),
        F.collect_list(volume).over(in_order.rowsBetween(-windows[0], -1)).alias("_sizes"),
        *(F.sum(value).over(in_block).alias(f"_block_{name}") for name, value in sums.items()),
        F.count(F.lit(1)).over(last_seconds).alias("_recent_count"),
        F.sum(volume).over(last_seconds).alias("_recent_volume"),
        F.sum(price).over(by_time.rangeBetween(*span)).alias("_all_sum"),
        F.count(price).over(by_time.rangeBetween(*span)).alias("_all_count"),
        F.sum(price).over(by_venue_time.rangeBetween(*span)).alias("_venue_sum"),
        F.count(price).over(by_venue_time.rangeBetween(*span)).alias("_venue_count"),
    ]
    window_sums = [
        sum((F.coalesce(F.lag(f"_block_{name}", k * block).over(in_order), F.lit(0.0))
             for k in range(1, n // block)), F.col(f"_block_{name}")).alias(f"_{name}_sum_{n}")
        for n in windows for name in sums
    ]
    timed = trades.select(*GOLD_KEYS, F.unix_micros("event_time").alias("_t"))
    aggregated = timed.select(*GOLD_KEYS, "_t", *first_pass)
    return aggregated.select("*", *window_sums)


def _std_from_sums(total: Column, squares: Column, count: Column) -> Column:
    """Sample standard deviation from a window's sum and sum of squares. Where all values are
    equal, rounding leaves a residue near 1e-8 of the mean (prices vary little around a large
    mean); under 1e-6 of the mean the window counts as flat, std 0."""
    variance = F.try_divide(squares - F.try_divide(total * total, count), count - 1)
    std = F.sqrt(F.greatest(variance, F.lit(0.0)))
    return F.when(std > F.abs(F.try_divide(total, count)) * _FLAT, std).otherwise(F.lit(0.0))


def _size_rank(sizes: Column) -> Column:
    """Mid-rank of the trade's volume among the previous trades' volumes, in [0, 1].

    Built from array functions Spark compiles (a sort, a search, a removal): a lambda over the
    array is interpreted row by row, and cost twice the time of the rest of the rank.
    """
    volume = F.col("volume")
    below = F.array_position(F.sort_array(F.array_append(sizes, volume)), volume) - 1
    equal = F.size(sizes) - F.size(F.array_remove(sizes, volume))
    return F.try_divide(below + equal * 0.5, F.size(sizes))


def _finite(value: Column, neutral: Column | float) -> Column:
    """The value as a double, or the neutral one when it is null, NaN or infinite."""
    value = value.cast("double")
    fallback = neutral if isinstance(neutral, Column) else F.lit(neutral)
    return F.when(F.abs(value) < F.lit(float("inf")), value).otherwise(fallback.cast("double"))
